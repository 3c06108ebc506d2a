use pganalytics_domain::collect::CollectedRows;
use procfs::{Current, CurrentSI, KernelStats, LoadAverage};
use serde_json::json;

const COLUMNS: &[&str] = &[
    "load1",
    "load5",
    "load15",
    "procs_running",
    "procs_blocked",
    "cpus",
];

/// `/proc/loadavg`, and running/blocked processes and the CPUs online from `/proc/stat`
/// (alerts judge the load per CPU).
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let l = LoadAverage::current()?;
    let k = KernelStats::current()?;
    let mut out = CollectedRows::new("sys_load", COLUMNS);
    // The kernel reports two decimals; procfs hands them over as f32.
    let exact = |v: f32| (f64::from(v) * 100.0).round() / 100.0;
    out.push(vec![
        json!(exact(l.one)),
        json!(exact(l.five)),
        json!(exact(l.fifteen)),
        json!(k.procs_running),
        json!(k.procs_blocked),
        json!(k.cpu_time.len()),
    ]);
    Ok(out)
}
