use pganalytics_domain::collect::CollectedRows;
use serde_json::json;

const COLUMNS: &[&str] = &[
    "device",
    "reads_completed",
    "reads_merged",
    "sectors_read",
    "read_time_ms",
    "writes_completed",
    "writes_merged",
    "sectors_written",
    "write_time_ms",
    "ios_in_progress",
    "io_time_ms",
    "weighted_io_time_ms",
];

/// Whole devices only: partitions would count the same I/O twice, and loop/ram devices are
/// noise. A device is whole when `/sys/block/<name>` exists.
fn is_whole_disk(name: &str) -> bool {
    !name.starts_with("loop")
        && !name.starts_with("ram")
        && std::path::Path::new("/sys/block").join(name).exists()
}

/// `/proc/diskstats`.
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let mut out = CollectedRows::new("sys_disk_io", COLUMNS);
    for d in procfs::diskstats()?
        .into_iter()
        .filter(|d| is_whole_disk(&d.name))
    {
        out.push(vec![
            json!(d.name),
            json!(d.reads),
            json!(d.merged),
            json!(d.sectors_read),
            json!(d.time_reading),
            json!(d.writes),
            json!(d.writes_merged),
            json!(d.sectors_written),
            json!(d.time_writing),
            json!(d.in_progress),
            json!(d.time_in_progress),
            json!(d.weighted_time_in_progress),
        ]);
    }
    Ok(out)
}
