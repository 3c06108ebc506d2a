use pganalytics_domain::collect::CollectedRows;
use serde_json::json;

const COLUMNS: &[&str] = &[
    "interface",
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_dropped",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_dropped",
];

/// `/proc/net/dev`, every interface, sorted by name.
pub(super) fn read() -> procfs::ProcResult<CollectedRows> {
    let mut devices: Vec<_> = procfs::net::dev_status()?.into_values().collect();
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = CollectedRows::new("sys_network", COLUMNS);
    for d in devices {
        out.push(vec![
            json!(d.name),
            json!(d.recv_bytes),
            json!(d.recv_packets),
            json!(d.recv_errs),
            json!(d.recv_drop),
            json!(d.sent_bytes),
            json!(d.sent_packets),
            json!(d.sent_errs),
            json!(d.sent_drop),
        ]);
    }
    Ok(out)
}
