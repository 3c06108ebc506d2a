use pganalytics_domain::collect::CollectedRows;
use procfs::{CpuTime, CurrentSI, KernelStats};
use serde_json::json;

const COLUMNS: &[&str] = &[
    "cpu",
    "user_ms",
    "nice_ms",
    "system_ms",
    "idle_ms",
    "iowait_ms",
    "irq_ms",
    "softirq_ms",
    "steal_ms",
];

fn row(name: &str, t: &CpuTime) -> Vec<serde_json::Value> {
    vec![
        json!(name),
        json!(t.user_ms()),
        json!(t.nice_ms()),
        json!(t.system_ms()),
        json!(t.idle_ms()),
        json!(t.iowait_ms()),
        json!(t.irq_ms()),
        json!(t.softirq_ms()),
        json!(t.steal_ms()),
    ]
}

/// `/proc/stat`: one row for all CPUs (`cpu = "all"`) and one per CPU.
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let stats = KernelStats::current()?;
    let mut out = CollectedRows::new("sys_cpu", COLUMNS);
    out.push(row("all", &stats.total));
    for (i, t) in stats.cpu_time.iter().enumerate() {
        out.push(row(&i.to_string(), t));
    }
    Ok(out)
}
