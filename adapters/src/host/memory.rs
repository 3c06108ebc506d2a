use pganalytics_domain::collect::CollectedRows;
use procfs::{Current, Meminfo};
use serde_json::json;

const COLUMNS: &[&str] = &[
    "total_bytes",
    "free_bytes",
    "available_bytes",
    "buffers_bytes",
    "cached_bytes",
    "dirty_bytes",
    "swap_total_bytes",
    "swap_free_bytes",
];

/// `/proc/meminfo` (procfs converts kB to bytes).
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let m = Meminfo::current()?;
    let mut out = CollectedRows::new("sys_memory", COLUMNS);
    out.push(vec![
        json!(m.mem_total),
        json!(m.mem_free),
        json!(m.mem_available),
        json!(m.buffers),
        json!(m.cached),
        json!(m.dirty),
        json!(m.swap_total),
        json!(m.swap_free),
    ]);
    Ok(out)
}
