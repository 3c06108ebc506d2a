use pganalytics_domain::collect::CollectedRows;
use procfs::{CpuPressure, Current, IoPressure, MemoryPressure, PressureRecord};
use serde_json::{Value, json};

const COLUMNS: &[&str] = &[
    "resource",
    "some_avg10",
    "some_avg60",
    "some_avg300",
    "some_total_us",
    "full_avg10",
    "full_avg60",
    "full_avg300",
    "full_total_us",
];

/// Pressure stall information (`/proc/pressure/*`, Linux 4.20+ with PSI enabled). A kernel
/// without it yields no rows rather than an error: PSI is optional.
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let mut out = CollectedRows::new("sys_pressure", COLUMNS);
    if !std::path::Path::new("/proc/pressure").is_dir() {
        return Ok(out);
    }
    let cpu = CpuPressure::current()?;
    let memory = MemoryPressure::current()?;
    let io = IoPressure::current()?;
    for (resource, some, full) in [
        ("cpu", cpu.some, cpu.full),
        ("memory", memory.some, memory.full),
        ("io", io.some, io.full),
    ] {
        let mut row = vec![json!(resource)];
        row.extend(record(&some));
        row.extend(record(&full));
        out.push(row);
    }
    Ok(out)
}

fn record(r: &PressureRecord) -> [Value; 4] {
    // The kernel reports two decimals; procfs hands them over as f32.
    let exact = |v: f32| json!((f64::from(v) * 100.0).round() / 100.0);
    [
        exact(r.avg10),
        exact(r.avg60),
        exact(r.avg300),
        json!(r.total),
    ]
}
