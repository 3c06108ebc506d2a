//! The fleet at a glance: each monitored server's state, role, version, firing alerts and
//! latest figures (connections, transactions per second, cache hit ratio, replication lag,
//! disk space), from its newest readings. What the fleet list of the API and the console
//! show; pure, so the rules are tested without a store.

use serde::Serialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use crate::rates::diff_since;

/// How far back the fleet list looks for a server's newest readings.
pub const LOOKBACK: Duration = Duration::minutes(10);
/// An agent that has not pushed for this long is silent (the `agent_silent` rule's default:
/// 20 of the shortest 15-second intervals).
pub const AGENT_SILENT_AFTER: Duration = Duration::minutes(5);
/// A server whose agent pushes but whose newest instance reading is older than this is
/// unreachable (the `pg_target_unreachable` rule's default: 3 of its 60-second intervals).
pub const UNREACHABLE_AFTER: Duration = Duration::minutes(3);

/// What a server is doing, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Its agent has not pushed for [`AGENT_SILENT_AFTER`] (or its collector is revoked).
    AgentSilent,
    /// Its agent pushes but reads nothing from PostgreSQL.
    Unreachable,
    /// In a maintenance window: alerts are held back.
    Maintenance,
    Up,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentSilent => "agent_silent",
            Self::Unreachable => "unreachable",
            Self::Maintenance => "maintenance",
            Self::Up => "up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    Primary,
    Standby,
}

/// The state of a server from when its agent last pushed, when it last read the instance,
/// and whether a maintenance window covers it now. A window wins over an unreachable
/// instance (the maintenance is why), not over a silent agent.
pub fn state(
    now: OffsetDateTime,
    agent_last_seen: Option<OffsetDateTime>,
    agent_active: bool,
    instance_last_read: Option<OffsetDateTime>,
    in_maintenance: bool,
) -> ServerState {
    let fresh = |t: Option<OffsetDateTime>, within: Duration| t.is_some_and(|t| now - t <= within);
    if !agent_active || !fresh(agent_last_seen, AGENT_SILENT_AFTER) {
        ServerState::AgentSilent
    } else if in_maintenance {
        ServerState::Maintenance
    } else if !fresh(instance_last_read, UNREACHABLE_AFTER) {
        ServerState::Unreachable
    } else {
        ServerState::Up
    }
}

/// One `pg_database` reading of a database: the counters the fleet list turns into rates.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseReading {
    pub datname: Option<String>,
    pub time: OffsetDateTime,
    pub xact_commit: Option<f64>,
    pub xact_rollback: Option<f64>,
    pub blks_hit: Option<f64>,
    pub blks_read: Option<f64>,
}

/// Transactions per second and the cache hit ratio over each database's last two readings,
/// summed over the server's databases (counter resets handled as everywhere): `None` where
/// no database has two readings with the counters.
pub fn database_rates(readings: &[DatabaseReading]) -> (Option<f64>, Option<f64>) {
    let mut by_db: BTreeMap<&Option<String>, Vec<&DatabaseReading>> = BTreeMap::new();
    for r in readings {
        by_db.entry(&r.datname).or_default().push(r);
    }
    let delta = |a: Option<f64>, b: Option<f64>| -> Option<f64> {
        // Counters are whole numbers stored as bigint; read as floats for the query.
        Some(diff_since(a? as i64, b? as i64).amount() as f64)
    };
    let (mut tps, mut hit, mut read) = (None::<f64>, 0.0, 0.0);
    for rows in by_db.values_mut() {
        rows.sort_by_key(|r| r.time);
        let [.., prev, last] = rows.as_slice() else {
            continue;
        };
        let dt = (last.time - prev.time).as_seconds_f64();
        if dt <= 0.0 {
            continue;
        }
        if let (Some(c), Some(r)) = (
            delta(prev.xact_commit, last.xact_commit),
            delta(prev.xact_rollback, last.xact_rollback),
        ) {
            *tps.get_or_insert(0.0) += (c + r) / dt;
        }
        if let (Some(h), Some(r)) = (
            delta(prev.blks_hit, last.blks_hit),
            delta(prev.blks_read, last.blks_read),
        ) {
            hit += h;
            read += r;
        }
    }
    let ratio = (hit + read > 0.0).then(|| hit / (hit + read));
    (tps, ratio)
}

/// `server_version_num` (e.g. 150004) as people write it ("15.4"); releases before 10 had
/// three parts (90624 is "9.6.24").
pub fn version_name(num: f64) -> Option<String> {
    if !num.is_finite() || num < 10_000.0 {
        return None;
    }
    let n = num as i64;
    Some(if n >= 100_000 {
        format!("{}.{}", n / 10_000, n % 10_000)
    } else {
        format!("{}.{}.{}", n / 10_000, n / 100 % 100, n % 100)
    })
}

/// One mount's space.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub mountpoint: Option<String>,
    pub available_bytes: Option<f64>,
    pub total_bytes: Option<f64>,
}

/// The mount with the smallest share of free space: (mountpoint, available bytes, free
/// share).
pub fn tightest_mount(mounts: &[Mount]) -> Option<(Option<String>, f64, f64)> {
    mounts
        .iter()
        .filter_map(|m| {
            let (avail, total) = (m.available_bytes?, m.total_bytes?);
            (total > 0.0).then(|| (m.mountpoint.clone(), avail, avail / total))
        })
        .min_by(|a, b| a.2.total_cmp(&b.2))
}

/// A server in the fleet list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FleetRow {
    pub server_id: i64,
    /// The collector (agent) that reports it.
    pub collector: String,
    pub instance: String,
    pub state: ServerState,
    /// `None` until the instance was read once in [`LOOKBACK`].
    pub role: Option<ServerRole>,
    /// PostgreSQL's release, e.g. "16.4".
    pub version: Option<String>,
    pub firing_alerts: u32,
    pub pending_alerts: u32,
    /// The most severe firing alert's severity.
    pub worst_severity: Option<String>,
    pub connections: Option<f64>,
    pub max_connections: Option<f64>,
    pub transactions_per_second: Option<f64>,
    /// Blocks found in shared buffers over blocks needed, 0 to 1.
    pub cache_hit_ratio: Option<f64>,
    /// A standby's replay lag; a primary's largest standby replay lag.
    pub replication_lag_seconds: Option<f64>,
    /// The mount with the least free space.
    pub disk_mountpoint: Option<String>,
    pub disk_available_bytes: Option<f64>,
    /// 0 to 1.
    pub disk_free_ratio: Option<f64>,
    /// The newest reading of the instance.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_reading: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub agent_last_seen: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests;
