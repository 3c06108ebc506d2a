//! The server's own metrics, served as Prometheus text at `GET /metrics`: requests and
//! their latency per route and status, ingest (batches, rows per family, duplicates,
//! rejections per reason), rate-limit refusals, the connection pools, the collectors, alert
//! evaluation (leadership, cycles, rules, transitions), notification outcomes and
//! maintenance (rollups, partitions, lag).
//! Labels are bounded: route patterns (never paths), family names, error codes.

use pganalytics_ports::store::{MaintenanceReport, PoolUsage};
use pganalytics_ports::usecases::alerts::{EvaluationReport, NotifyReport};
use pganalytics_ports::usecases::{CollectorCounts, IngestReport, IngestStatus};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    batches: IntCounterVec,
    rows: IntCounterVec,
    rejections: IntCounterVec,
    rate_limited: IntCounterVec,
    pool: IntGaugeVec,
    collectors: IntGaugeVec,
    alert_leader: IntGaugeVec,
    alert_cycles: IntCounterVec,
    alert_rules: IntGaugeVec,
    alert_transitions: IntCounterVec,
    alert_seconds: GaugeVec,
    notifications: IntCounterVec,
    maintenance_leader: IntGaugeVec,
    maintenance_runs: IntCounterVec,
    partitions: IntCounterVec,
    rollup_rows: IntCounterVec,
    rollup_buckets: IntCounterVec,
    rollup_lag: IntGaugeVec,
    /// The last maintenance report of this server, and when it ran (for the health answer).
    last_maintenance: std::sync::Mutex<Option<(time::OffsetDateTime, MaintenanceReport)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "pganalytics_http_request_duration_seconds",
                "Time to answer an HTTP request, by route and status.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        r.register(Box::new(latency.clone()))
            .expect("registered once");
        Self {
            requests: counter(
                &r,
                "pganalytics_http_requests_total",
                "HTTP requests answered, by route and status.",
                &["method", "route", "status"],
            ),
            latency,
            batches: counter(
                &r,
                "pganalytics_ingest_batches_total",
                "Metric batches accepted: stored, or duplicates of a stored one.",
                &["outcome"],
            ),
            rows: counter(
                &r,
                "pganalytics_ingest_rows_total",
                "Metric rows stored, by family.",
                &["family"],
            ),
            rejections: counter(
                &r,
                "pganalytics_ingest_rejections_total",
                "Pushes refused, by error code.",
                &["reason"],
            ),
            rate_limited: counter(
                &r,
                "pganalytics_rate_limited_requests_total",
                "Requests refused with 429, by budget.",
                &["budget"],
            ),
            pool: gauge(
                &r,
                "pganalytics_db_pool_connections",
                "Database pool connections, by pool and state.",
                &["pool", "state"],
            ),
            collectors: gauge(
                &r,
                "pganalytics_collectors",
                "Registered collectors: active, revoked, and active ones seen in the last 5 minutes (reporting).",
                &["state"],
            ),
            alert_leader: gauge(
                &r,
                "pganalytics_alert_leader",
                "1 while this server evaluates the alert rules (of servers sharing a database, one does).",
                &[],
            ),
            alert_cycles: counter(
                &r,
                "pganalytics_alert_evaluations_total",
                "Alert evaluation cycles this server ran.",
                &[],
            ),
            alert_rules: gauge(
                &r,
                "pganalytics_alert_rules",
                "Rules of the last cycle: evaluated, failed (see the rule's last_error), not_due (their family is not collected again yet).",
                &["state"],
            ),
            alert_transitions: counter(
                &r,
                "pganalytics_alert_transitions_total",
                "Alert transitions (firing, escalated, resolved, …) recorded.",
                &[],
            ),
            alert_seconds: {
                let g = GaugeVec::new(
                    Opts::new(
                        "pganalytics_alert_evaluation_seconds",
                        "Wall time of the last alert evaluation cycle.",
                    ),
                    &[],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            notifications: counter(
                &r,
                "pganalytics_notifications_total",
                "Notification attempts, by outcome: delivered, retried (the receiver failed; tried again later), failed (given up).",
                &["outcome"],
            ),
            maintenance_leader: gauge(
                &r,
                "pganalytics_maintenance_leader",
                "1 when this server runs maintenance (rollups, partitions, retention) for the database, 0 when another one does.",
                &[],
            ),
            maintenance_runs: counter(
                &r,
                "pganalytics_maintenance_runs_total",
                "Maintenance passes run by this server, by outcome: ok or failed.",
                &["outcome"],
            ),
            partitions: counter(
                &r,
                "pganalytics_partitions_total",
                "Partitions changed by maintenance, by action: created (ahead of time), dropped (past retention) or compressed (moved to columnar storage).",
                &["action"],
            ),
            rollup_rows: counter(
                &r,
                "pganalytics_rollup_rows_total",
                "Raw rows read into hourly rollups (recomputations included).",
                &[],
            ),
            rollup_buckets: counter(
                &r,
                "pganalytics_rollup_buckets_total",
                "Rollup rows written, by kind: hours and days rolled for the first time count as rolled, late ones as recomputed.",
                &["kind"],
            ),
            rollup_lag: gauge(
                &r,
                "pganalytics_rollup_lag_seconds",
                "How far the oldest family's hourly rollups are behind now (an hour and the grace period when up to date).",
                &[],
            ),
            last_maintenance: std::sync::Mutex::new(None),
            registry: r,
        }
    }
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// A push's outcome: its report, or the code of the error it was refused with.
    pub fn ingest_outcome(&self, result: Result<&IngestReport, &str>) {
        match result {
            Ok(r) if r.status == IngestStatus::Duplicate => {
                self.batches.with_label_values(&["duplicate"]).inc();
            }
            Ok(r) => {
                self.batches.with_label_values(&["stored"]).inc();
                for (family, n) in &r.families {
                    self.rows.with_label_values(&[family.as_str()]).inc_by(*n);
                }
            }
            Err(code) => self.rejections.with_label_values(&[code]).inc(),
        }
    }

    pub fn record_pools(&self, usage: &[PoolUsage]) {
        for u in usage {
            self.pool
                .with_label_values(&[u.pool, u.state])
                .set(u.connections);
        }
    }

    pub fn record_collectors(&self, counts: CollectorCounts) {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        for (state, count) in [
            ("active", counts.active),
            ("revoked", counts.revoked),
            ("reporting", counts.reporting),
        ] {
            self.collectors.with_label_values(&[state]).set(n(count));
        }
    }

    /// An alert evaluation turn: the cycle's report when this server led it, and its time.
    pub fn alert_cycle(&self, report: Option<&EvaluationReport>, seconds: f64) {
        let Some(r) = report else {
            self.alert_leader.with_label_values::<&str>(&[]).set(0);
            return;
        };
        self.alert_leader.with_label_values::<&str>(&[]).set(1);
        self.alert_cycles.with_label_values::<&str>(&[]).inc();
        for (state, n) in [
            ("evaluated", r.rules),
            ("failed", r.failed_rules),
            ("not_due", r.not_due),
        ] {
            self.alert_rules
                .with_label_values(&[state])
                .set(i64::from(n));
        }
        self.alert_transitions
            .with_label_values::<&str>(&[])
            .inc_by(u64::from(r.transitions));
        self.alert_seconds
            .with_label_values::<&str>(&[])
            .set(seconds);
    }

    pub fn notified(&self, r: &NotifyReport) {
        for (outcome, n) in [
            ("delivered", r.delivered),
            ("retried", r.retried),
            ("failed", r.failed),
        ] {
            self.notifications
                .with_label_values(&[outcome])
                .inc_by(u64::from(n));
        }
    }

    /// A maintenance turn: its report when this server led it, an error when it failed.
    pub fn maintenance(
        &self,
        result: Result<Option<&MaintenanceReport>, ()>,
        at: time::OffsetDateTime,
    ) {
        let r = match result {
            Err(()) => {
                self.maintenance_runs.with_label_values(&["failed"]).inc();
                return;
            }
            Ok(None) => {
                self.maintenance_leader
                    .with_label_values::<&str>(&[])
                    .set(0);
                return;
            }
            Ok(Some(r)) => r,
        };
        self.maintenance_leader
            .with_label_values::<&str>(&[])
            .set(1);
        self.maintenance_runs.with_label_values(&["ok"]).inc();
        self.partitions
            .with_label_values(&["created"])
            .inc_by(u64::from(r.partitions_created));
        self.partitions
            .with_label_values(&["dropped"])
            .inc_by(u64::from(r.partitions_dropped));
        self.partitions
            .with_label_values(&["compressed"])
            .inc_by(u64::from(r.partitions_compressed));
        self.rollup_rows
            .with_label_values::<&str>(&[])
            .inc_by(r.rollup.rows_rolled_up);
        self.rollup_buckets
            .with_label_values(&["rolled"])
            .inc_by(r.rollup.hours_rolled + r.rollup.days_rolled);
        self.rollup_buckets
            .with_label_values(&["recomputed"])
            .inc_by(r.rollup.buckets_recomputed);
        self.rollup_lag
            .with_label_values::<&str>(&[])
            .set(r.rollup.lag_seconds);
        *self
            .last_maintenance
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((at, r.clone()));
    }

    /// This server's last maintenance report and when it ran; none before its first or when
    /// another server leads maintenance.
    pub fn last_maintenance(&self) -> Option<(time::OffsetDateTime, MaintenanceReport)> {
        self.last_maintenance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn rate_limited(&self, budget: &str) {
        self.rate_limited.with_label_values(&[budget]).inc();
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).unwrap_or_default()
    }
}
