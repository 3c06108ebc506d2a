//! The agent's own figures: in every batch as the `agent` family, and as Prometheus text
//! when `prometheus_listen` is set.

use pganalytics_domain::batch::{EncodedBlock, WireBlock};
use pganalytics_ports::spool::SpoolStats;
use pganalytics_ports::usecases::RunSummary;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, Default)]
struct CollectorFigures {
    duration_ms: f64,
    rows: usize,
    errors: u64,
}

/// Shared by the collecting loop, the sender and the Prometheus endpoint.
#[derive(Debug, Default)]
pub struct SelfMetrics {
    collectors: Mutex<BTreeMap<(String, &'static str), CollectorFigures>>,
    spool: Mutex<SpoolStats>,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub delivered: AtomicU64,
    pub skipped_ticks: AtomicU64,
}

const COLUMNS: &[&str] = &[
    "collector",
    "duration_ms",
    "rows",
    "errors",
    "skipped_ticks",
    "spool_bytes",
    "spool_records",
    "dropped_records",
    "damaged_records",
    "retries",
    "dead_letters",
    "rss_bytes",
];

pub fn rss_bytes() -> u64 {
    // The second field of statm is resident pages.
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u64);
    pages * page
}

impl SelfMetrics {
    pub fn record_runs(&self, runs: &[RunSummary]) {
        let mut map = self.collectors.lock().unwrap_or_else(|p| p.into_inner());
        for r in runs {
            let f = map.entry((r.instance.clone(), r.collector)).or_default();
            f.duration_ms = r.duration.as_secs_f64() * 1000.0;
            f.rows = r.rows;
            f.errors += u64::from(r.error.is_some());
        }
    }

    pub fn record_spool(&self, stats: SpoolStats) {
        *self.spool.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    }

    fn spool(&self) -> SpoolStats {
        *self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `agent` family: a row per collector and instance (the collectors of the host and
    /// of every target), and a row for the process (no collector).
    pub fn blocks(&self, collected_at: OffsetDateTime) -> Vec<EncodedBlock> {
        let mut per_instance: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
        for ((instance, collector), f) in self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let mut row = vec![
                json!(collector),
                json!(f.duration_ms),
                json!(f.rows),
                json!(f.errors),
            ];
            row.resize(COLUMNS.len(), Value::Null);
            per_instance.entry(instance.clone()).or_default().push(row);
        }
        let spool = self.spool();
        let process = vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!(self.skipped_ticks.load(Ordering::Relaxed)),
            json!(spool.bytes),
            json!(spool.records),
            json!(spool.dropped_records),
            json!(spool.damaged_records),
            json!(self.retries.load(Ordering::Relaxed)),
            json!(self.dead_letters.load(Ordering::Relaxed)),
            json!(rss_bytes()),
        ];
        let first = per_instance.keys().next().cloned();
        if let Some(first) = first {
            per_instance.get_mut(&first).expect("key").push(process);
        }
        per_instance
            .into_iter()
            .map(|(instance, rows)| {
                EncodedBlock::encode(WireBlock {
                    family: "agent".into(),
                    instance,
                    collected_at: Some(collected_at),
                    columns: COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
                    rows,
                })
            })
            .collect()
    }

    /// The process-wide figures, in [`SCALARS`] order.
    fn scalars(&self) -> [u64; 9] {
        let spool = self.spool();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            spool.bytes,
            spool.records,
            spool.dropped_records,
            spool.damaged_records,
            load(&self.delivered),
            load(&self.retries),
            load(&self.dead_letters),
            load(&self.skipped_ticks),
            rss_bytes(),
        ]
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let map = self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let per_collector: [(&str, &str, &str, Figure); 3] = [
            (
                "pganalytics_agent_collector_duration_seconds",
                "gauge",
                "How long the collector's last run took.",
                |f| f.duration_ms / 1000.0,
            ),
            (
                "pganalytics_agent_collector_rows",
                "gauge",
                "How many rows the collector's last run sent.",
                |f| f.rows as f64,
            ),
            (
                "pganalytics_agent_collector_errors_total",
                "counter",
                "Failed runs of the collector.",
                |f| f.errors as f64,
            ),
        ];
        for (name, kind, help, value) in per_collector {
            header(&mut out, name, kind, help);
            for ((instance, collector), f) in &map {
                let instance = escape(instance);
                let v = value(f);
                let _ = writeln!(
                    out,
                    "{name}{{instance=\"{instance}\",collector=\"{collector}\"}} {v}"
                );
            }
        }
        for ((name, kind, help), value) in SCALARS.into_iter().zip(self.scalars()) {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// One figure of a collector's last runs.
type Figure = fn(&CollectorFigures) -> f64;

/// The agent's process-wide Prometheus figures: name, type, help.
#[rustfmt::skip]
const SCALARS: [(&str, &str, &str); 9] = [
    ("pganalytics_agent_spool_bytes", "gauge", "Bytes in the spool."),
    ("pganalytics_agent_spool_records", "gauge", "Batches waiting in the spool."),
    ("pganalytics_agent_spool_dropped_records_total", "counter",
        "Batches dropped, oldest first, to keep the spool within its limit."),
    ("pganalytics_agent_spool_damaged_records_total", "counter",
        "Damaged batches skipped (torn writes after a crash)."),
    ("pganalytics_agent_delivered_batches_total", "counter", "Batches the server acknowledged."),
    ("pganalytics_agent_push_retries_total", "counter", "Pushes that failed and will be retried."),
    ("pganalytics_agent_dead_letters_total", "counter",
        "Batches the server refused for good, kept in the dead-letter folder."),
    ("pganalytics_agent_skipped_ticks_total", "counter",
        "Collection ticks skipped because the previous run was still going."),
    ("pganalytics_agent_resident_memory_bytes", "gauge", "Resident set size of the agent."),
];

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prometheus_text_has_every_collector_and_process_figure() {
        let m = SelfMetrics::default();
        let run = |error: Option<&str>| RunSummary {
            instance: "db \"main\"".into(),
            collector: "pg_table",
            duration: std::time::Duration::from_millis(1500),
            rows: 7,
            error: error.map(str::to_owned),
        };
        m.record_runs(&[run(None)]);
        m.record_runs(&[run(Some("timeout"))]);
        m.record_spool(SpoolStats {
            records: 3,
            bytes: 4096,
            ..SpoolStats::default()
        });
        m.retries.fetch_add(2, Ordering::Relaxed);
        let text = m.prometheus();
        for line in [
            "# TYPE pganalytics_agent_collector_duration_seconds gauge",
            r#"pganalytics_agent_collector_duration_seconds{instance="db \"main\"",collector="pg_table"} 1.5"#,
            r#"pganalytics_agent_collector_errors_total{instance="db \"main\"",collector="pg_table"} 1"#,
            r#"pganalytics_agent_collector_rows{instance="db \"main\"",collector="pg_table"} 7"#,
            "pganalytics_agent_spool_bytes 4096",
            "pganalytics_agent_spool_records 3",
            "pganalytics_agent_push_retries_total 2",
            "# TYPE pganalytics_agent_dead_letters_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        assert_eq!(text.matches("# HELP ").count(), 3 + SCALARS.len());
    }
}
