//! The fleet list: every monitored server with its state and latest figures, in a fixed
//! number of store reads whatever the fleet's size (one per family, plus the collectors,
//! alerts and maintenance windows).

use futures_util::future::{try_join4, try_join5};
use pganalytics_domain::alerts::eval::{Row, RowsNeed};
use pganalytics_domain::alerts::rule::Severity;
use pganalytics_domain::alerts::state::Phase;
use pganalytics_domain::catalog;
use pganalytics_domain::fleet::{
    self, DatabaseReading, FleetRow, LOOKBACK, Mount, ServerRole, database_rates, tightest_mount,
    version_name,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::StoreError;
use crate::env::Clock;
use crate::store::{AlertFilter, AlertStore, CollectorStore, MetricStore};

/// Rows one family's read may return (500 servers × 2 databases × 10 readings is 10,000).
const MAX_ROWS: usize = 500_000;

pub struct FleetOverview {
    pub metrics: Arc<dyn MetricStore>,
    pub collectors: Arc<dyn CollectorStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub clock: Arc<dyn Clock>,
}

/// Rows of `family` by server: `columns` read over the last [`LOOKBACK`], all rows or only
/// each server's latest.
async fn rows_of(
    metrics: &dyn MetricStore,
    family: &str,
    columns: &[&str],
    servers: &[i64],
    now: OffsetDateTime,
    latest: bool,
) -> Result<BTreeMap<i64, Vec<Row>>, StoreError> {
    let family = catalog::family(family)
        .ok_or_else(|| StoreError::Invalid(format!("unknown family {family}")))?;
    let need = RowsNeed {
        family,
        columns: columns
            .iter()
            .filter_map(|c| family.column(c).map(|(_, c)| c))
            .collect(),
        filters: vec![],
        from: now - LOOKBACK,
        to: now,
        servers: servers.to_vec(),
    };
    let rows = if latest {
        metrics.read_latest(&need, MAX_ROWS).await?
    } else {
        metrics.read_rows(&need, MAX_ROWS).await?
    };
    let mut out: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for r in rows {
        out.entry(r.server_id).or_default().push(r);
    }
    Ok(out)
}

impl FleetOverview {
    /// Every server, ordered by collector then instance.
    pub async fn list(&self) -> Result<Vec<FleetRow>, StoreError> {
        let now = self.clock.now();
        let servers = self.metrics.list_servers().await?;
        let ids: Vec<i64> = servers.iter().map(|s| s.id).collect();
        let m = self.metrics.as_ref();
        let open = |phase| AlertFilter {
            phase: Some(phase),
            severity: None,
            server_id: None,
            rule: None,
            limit: usize::MAX,
        };
        let (collectors, firing, pending, windows) = try_join4(
            self.collectors.list_collectors(),
            self.alerts.list_alerts(&open(Phase::Firing)),
            self.alerts.list_alerts(&open(Phase::Pending)),
            self.alerts.list_maintenance(now),
        )
        .await?;
        let (instance, databases, replicas, receivers, disks) = try_join5(
            rows_of(
                m,
                "pg_server",
                &[
                    "connections",
                    "max_connections",
                    "in_recovery",
                    "server_version_num",
                ],
                &ids,
                now,
                true,
            ),
            rows_of(
                m,
                "pg_database",
                &["xact_commit", "xact_rollback", "blks_hit", "blks_read"],
                &ids,
                now,
                false,
            ),
            rows_of(
                m,
                "pg_replication",
                &["replay_lag_seconds"],
                &ids,
                now,
                true,
            ),
            rows_of(
                m,
                "pg_wal_receiver",
                &["replay_lag_seconds"],
                &ids,
                now,
                true,
            ),
            rows_of(
                m,
                "disk_usage",
                &["available_bytes", "total_bytes"],
                &ids,
                now,
                true,
            ),
        )
        .await?;
        let collectors: BTreeMap<_, _> = collectors.into_iter().map(|c| (c.id, c)).collect();
        let mut out = Vec::with_capacity(servers.len());
        for s in servers {
            let collector = collectors.get(&s.collector_id);
            let latest = instance.get(&s.id).and_then(|rows| rows.first());
            let value = |k: usize| latest.and_then(|r| r.values.get(k).copied().flatten());
            let in_maintenance = windows.iter().any(|w| w.covers(Some(s.id), now));
            let severities: Vec<Severity> = firing
                .iter()
                .filter(|a| a.server_id == Some(s.id))
                .map(|a| a.severity)
                .collect();
            let readings: Vec<DatabaseReading> = databases
                .get(&s.id)
                .into_iter()
                .flatten()
                .map(|r| DatabaseReading {
                    datname: r.labels.first().cloned().flatten(),
                    time: r.time,
                    xact_commit: r.values.first().copied().flatten(),
                    xact_rollback: r.values.get(1).copied().flatten(),
                    blks_hit: r.values.get(2).copied().flatten(),
                    blks_read: r.values.get(3).copied().flatten(),
                })
                .collect();
            let (tps, cache_hit_ratio) = database_rates(&readings);
            let role = value(2).map(|r| {
                if r > 0.0 {
                    ServerRole::Standby
                } else {
                    ServerRole::Primary
                }
            });
            let lag_of = |rows: Option<&Vec<Row>>| {
                rows.into_iter()
                    .flatten()
                    .filter_map(|r| r.values.first().copied().flatten())
                    .reduce(f64::max)
            };
            let replication_lag_seconds = match role {
                Some(ServerRole::Standby) => lag_of(receivers.get(&s.id)),
                _ => lag_of(replicas.get(&s.id)),
            };
            let mounts: Vec<Mount> = disks
                .get(&s.id)
                .into_iter()
                .flatten()
                .map(|r| Mount {
                    mountpoint: r.labels.first().cloned().flatten(),
                    available_bytes: r.values.first().copied().flatten(),
                    total_bytes: r.values.get(1).copied().flatten(),
                })
                .collect();
            let disk = tightest_mount(&mounts);
            let agent_last_seen = collector.and_then(|c| c.last_seen);
            out.push(FleetRow {
                server_id: s.id,
                collector: collector.map_or_else(String::new, |c| c.name.as_str().to_owned()),
                instance: s.instance.as_str().to_owned(),
                state: fleet::state(
                    now,
                    agent_last_seen,
                    collector.is_some_and(|c| c.is_active()),
                    latest.map(|r| r.time),
                    in_maintenance,
                ),
                role,
                version: value(3).and_then(version_name),
                firing_alerts: u32::try_from(severities.len()).unwrap_or(u32::MAX),
                pending_alerts: u32::try_from(
                    pending.iter().filter(|a| a.server_id == Some(s.id)).count(),
                )
                .unwrap_or(u32::MAX),
                worst_severity: severities.iter().max().map(|s| s.as_str().to_owned()),
                connections: value(0),
                max_connections: value(1),
                transactions_per_second: tps,
                cache_hit_ratio,
                replication_lag_seconds,
                disk_mountpoint: disk.as_ref().and_then(|d| d.0.clone()),
                disk_available_bytes: disk.as_ref().map(|d| d.1),
                disk_free_ratio: disk.as_ref().map(|d| d.2),
                last_reading: latest.map(|r| r.time),
                agent_last_seen,
            });
        }
        out.sort_by(|a, b| (&a.collector, &a.instance).cmp(&(&b.collector, &b.instance)));
        Ok(out)
    }
}

crate::usecases::auth::opaque_debug!(FleetOverview);
