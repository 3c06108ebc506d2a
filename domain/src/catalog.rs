//! The catalog of metric families: what the server stores, with typed columns.
//!
//! Every family is one table `metrics.<family>` with the columns `time` and `server_id`
//! followed by the columns listed here, in this order. Labels identify a series within a
//! family (a database, a table, a device); counters are cumulative integers as the source
//! reports them (rates come from [`crate::rates`]); gauges are point-in-time numbers.
//! Adding a family or a column is a migration plus an entry here; a test in the PostgreSQL
//! adapter checks the two agree.

use serde::Serialize;
use std::time::Duration;

use crate::config::Intervals;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Identifies a series (`text`).
    Label,
    /// Cumulative, non-negative integer (`bigint`).
    Counter,
    /// Point-in-time number (`double precision`).
    Gauge,
    /// Free text such as a log message (`text`).
    Text,
    /// A point in time (`timestamptz`), sent as RFC 3339.
    Timestamp,
}

impl ColumnKind {
    pub fn sql_type(self) -> &'static str {
        match self {
            Self::Label | Self::Text => "text",
            Self::Counter => "bigint",
            Self::Gauge => "double precision",
            Self::Timestamp => "timestamptz",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Text => "text",
            Self::Timestamp => "timestamp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
}

/// A group of collectors that run together on one interval (see
/// [`crate::config::Intervals`] and [`crate::schedule`]). Which group collects a family is
/// said once, by the family's [`FamilySpec::group`]; everything else (the schedule, the
/// agent's collector tables) derives it from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Activity,
    Database,
    Replication,
    Host,
    Tables,
    Statements,
    Disk,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::Activity,
        Group::Database,
        Group::Replication,
        Group::Host,
        Group::Tables,
        Group::Statements,
        Group::Disk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Database => "database",
            Self::Replication => "replication",
            Self::Host => "host",
            Self::Tables => "tables",
            Self::Statements => "statements",
            Self::Disk => "disk",
        }
    }

    /// The families this group collects, in catalog order.
    pub fn families(self) -> impl Iterator<Item = &'static FamilySpec> {
        FAMILIES.iter().filter(move |f| f.group == Some(self))
    }

    /// Whether this group collects `family`.
    pub fn collects(self, family: &str) -> bool {
        family_group(family) == Some(self)
    }

    pub fn interval(self, intervals: &Intervals) -> Duration {
        let seconds = match self {
            Self::Activity => intervals.activity,
            Self::Database => intervals.database,
            Self::Replication => intervals.replication,
            Self::Host => intervals.host,
            Self::Tables => intervals.tables,
            Self::Statements => intervals.statements,
            Self::Disk => intervals.disk,
        };
        Duration::from_secs(u64::from(seconds.max(1)))
    }
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct FamilySpec {
    pub name: &'static str,
    /// The collector group that collects it on the agent; `None` for the families that are
    /// not collected on a schedule (the server log's events, the agent's own figures).
    pub group: Option<Group>,
    /// How long raw rows are kept by default (see [`crate::rollup`] for the rolled tiers and
    /// configured retention).
    pub retention_days: u32,
    pub columns: &'static [ColumnSpec],
}

impl FamilySpec {
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnSpec)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }
    pub fn labels(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Label)
    }
}

/// The implicit per-row time column every family has.
pub const TIME_COLUMN: &str = "time";

const fn l(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Label,
    }
}
const fn c(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Counter,
    }
}
const fn g(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Gauge,
    }
}
const fn t(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Text,
    }
}
const fn ts(name: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind: ColumnKind::Timestamp,
    }
}

#[rustfmt::skip]
pub static FAMILIES: &[FamilySpec] = &[
    FamilySpec {
        name: "pg_database",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            l("datname"), g("numbackends"), c("xact_commit"), c("xact_rollback"),
            c("blks_read"), c("blks_hit"), c("tup_returned"), c("tup_fetched"),
            c("tup_inserted"), c("tup_updated"), c("tup_deleted"), c("conflicts"),
            c("temp_files"), c("temp_bytes"), c("deadlocks"), c("blk_read_time_us"),
            c("blk_write_time_us"), g("size_bytes"), g("datfrozenxid_age"),
            g("datminmxid_age"), ts("stats_reset"),
        ],
    },
    FamilySpec {
        name: "pg_server",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            ts("start_time"), g("max_connections"), g("reserved_connections"),
            g("connections"), g("autovacuum_freeze_max_age"),
            g("autovacuum_multixact_freeze_max_age"), g("in_recovery"),
            c("checksum_failures"), g("oldest_prepared_xact_seconds"),
            c("statements_dealloc"), g("server_version_num"),
        ],
    },
    FamilySpec {
        name: "pg_table",
        group: Some(Group::Tables),
        retention_days: 7,
        columns: &[
            l("datname"), l("schemaname"), l("relname"), c("seq_scan"), c("seq_tup_read"),
            c("idx_scan"), c("idx_tup_fetch"), c("n_tup_ins"), c("n_tup_upd"), c("n_tup_del"),
            c("n_tup_hot_upd"), g("n_live_tup"), g("n_dead_tup"), g("n_mod_since_analyze"),
            c("vacuum_count"), c("autovacuum_count"), c("analyze_count"),
            c("autoanalyze_count"), c("heap_blks_read"), c("heap_blks_hit"),
            c("idx_blks_read"), c("idx_blks_hit"), c("toast_blks_read"), c("toast_blks_hit"),
            g("table_size_bytes"), g("indexes_size_bytes"), g("toast_size_bytes"),
            g("relfrozenxid_age"), ts("last_vacuum"), ts("last_autovacuum"),
            ts("last_analyze"), ts("last_autoanalyze"), g("relations"), g("partitions"),
        ],
    },
    FamilySpec {
        name: "pg_index",
        group: Some(Group::Tables),
        retention_days: 7,
        columns: &[
            l("datname"), l("schemaname"), l("relname"), l("indexrelname"), c("idx_scan"),
            c("idx_tup_read"), c("idx_tup_fetch"), c("idx_blks_read"), c("idx_blks_hit"),
            g("size_bytes"), g("is_valid"), g("is_unique"), g("relations"), g("partitions"),
        ],
    },
    FamilySpec {
        name: "pg_activity",
        group: Some(Group::Activity),
        retention_days: 7,
        columns: &[
            l("datname"), l("state"), l("wait_event_type"), g("sessions"),
            g("longest_xact_seconds"), g("longest_query_seconds"),
            g("longest_idle_in_xact_seconds"), g("blocked_sessions"),
        ],
    },
    FamilySpec {
        name: "pg_bgwriter",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            c("checkpoints_timed"), c("checkpoints_req"), c("checkpoint_write_time_us"),
            c("checkpoint_sync_time_us"), c("buffers_checkpoint"), c("buffers_clean"),
            c("maxwritten_clean"), c("buffers_backend"), c("buffers_backend_fsync"),
            c("buffers_alloc"), ts("stats_reset"),
        ],
    },
    FamilySpec {
        name: "pg_replication",
        group: Some(Group::Replication),
        retention_days: 7,
        columns: &[
            l("application_name"), l("client_addr"), l("state"), l("sync_state"),
            g("sent_lag_bytes"), g("write_lag_bytes"), g("flush_lag_bytes"),
            g("replay_lag_bytes"), g("write_lag_seconds"), g("flush_lag_seconds"),
            g("replay_lag_seconds"),
        ],
    },
    FamilySpec {
        name: "sys_cpu",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            l("cpu"), c("user_ms"), c("nice_ms"), c("system_ms"), c("idle_ms"),
            c("iowait_ms"), c("irq_ms"), c("softirq_ms"), c("steal_ms"),
        ],
    },
    FamilySpec {
        name: "sys_memory",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            g("total_bytes"), g("free_bytes"), g("available_bytes"), g("buffers_bytes"),
            g("cached_bytes"), g("dirty_bytes"), g("swap_total_bytes"), g("swap_free_bytes"),
        ],
    },
    FamilySpec {
        name: "sys_load",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            g("load1"), g("load5"), g("load15"), g("procs_running"), g("procs_blocked"),
            g("cpus"),
        ],
    },
    FamilySpec {
        name: "sys_disk_io",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            l("device"), c("reads_completed"), c("reads_merged"), c("sectors_read"),
            c("read_time_ms"), c("writes_completed"), c("writes_merged"),
            c("sectors_written"), c("write_time_ms"), g("ios_in_progress"), c("io_time_ms"),
            c("weighted_io_time_ms"),
        ],
    },
    FamilySpec {
        name: "sys_network",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            l("interface"), c("rx_bytes"), c("rx_packets"), c("rx_errors"), c("rx_dropped"),
            c("tx_bytes"), c("tx_packets"), c("tx_errors"), c("tx_dropped"),
        ],
    },
    FamilySpec {
        name: "disk_usage",
        group: Some(Group::Disk),
        retention_days: 30,
        columns: &[
            l("mountpoint"), l("device"), l("fstype"), l("role"), g("total_bytes"),
            g("used_bytes"), g("available_bytes"), g("inodes_total"), g("inodes_used"),
            g("inodes_available"),
        ],
    },
    FamilySpec {
        name: "pg_lock",
        group: Some(Group::Activity),
        retention_days: 7,
        columns: &[
            l("datname"), l("locktype"), l("mode"), g("granted"), g("waiting"),
        ],
    },
    FamilySpec {
        name: "pg_wal",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            g("in_recovery"), g("wal_position_bytes"), c("wal_records"), c("wal_fpi"),
            c("wal_bytes"), c("wal_buffers_full"), c("wal_write"), c("wal_sync"),
            c("wal_write_time_us"), c("wal_sync_time_us"), ts("stats_reset"),
        ],
    },
    FamilySpec {
        name: "pg_archiver",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            c("archived_count"), c("failed_count"), t("last_archived_wal"),
            ts("last_archived_time"), t("last_failed_wal"), ts("last_failed_time"),
            ts("stats_reset"),
        ],
    },
    FamilySpec {
        name: "pg_replication_slot",
        group: Some(Group::Replication),
        retention_days: 7,
        columns: &[
            l("slot_name"), l("slot_type"), l("datname"), g("active"), t("wal_status"),
            g("retained_wal_bytes"), g("safe_wal_size_bytes"),
        ],
    },
    FamilySpec {
        name: "pg_wal_receiver",
        group: Some(Group::Replication),
        retention_days: 7,
        columns: &[
            l("sender_host"), t("status"), g("received_lag_bytes"), g("replay_lag_seconds"),
            g("last_message_age_seconds"),
        ],
    },
    FamilySpec {
        name: "pg_vacuum_progress",
        group: Some(Group::Activity),
        retention_days: 7,
        columns: &[
            l("datname"), l("relname"), l("phase"), g("pid"), g("heap_blks_total"),
            g("heap_blks_scanned"), g("heap_blks_vacuumed"), g("index_vacuum_count"),
            g("duration_seconds"),
        ],
    },
    FamilySpec {
        name: "pg_statement",
        group: Some(Group::Statements),
        retention_days: 7,
        columns: &[
            l("datname"), l("username"), l("queryid"), g("interval_seconds"), g("calls"),
            g("exec_time_ms"), g("plan_time_ms"), g("rows"), g("shared_blks_hit"),
            g("shared_blks_read"), g("shared_blks_dirtied"), g("shared_blks_written"),
            g("temp_blks_written"), g("blk_read_time_ms"), g("blk_write_time_ms"),
            g("wal_bytes"),
        ],
    },
    FamilySpec {
        name: "pg_statement_text",
        group: Some(Group::Statements),
        retention_days: 7,
        columns: &[
            l("datname"), l("queryid"), t("query"),
        ],
    },
    FamilySpec {
        name: "pg_io",
        group: Some(Group::Database),
        retention_days: 7,
        columns: &[
            l("backend_type"), l("object"), l("context"), c("reads"), c("read_time_us"),
            c("writes"), c("write_time_us"), c("writebacks"), c("extends"), c("hits"),
            c("evictions"), c("reuses"), c("fsyncs"), c("fsync_time_us"),
        ],
    },
    FamilySpec {
        name: "sys_pressure",
        group: Some(Group::Host),
        retention_days: 7,
        columns: &[
            l("resource"), g("some_avg10"), g("some_avg60"), g("some_avg300"),
            c("some_total_us"), g("full_avg10"), g("full_avg60"), g("full_avg300"),
            c("full_total_us"),
        ],
    },
    FamilySpec {
        name: "agent",
        group: None,
        retention_days: 7,
        columns: &[
            l("collector"), g("duration_ms"), g("rows"), c("errors"), c("skipped_ticks"),
            g("spool_bytes"), g("spool_records"), c("dropped_records"),
            c("damaged_records"), c("retries"), c("dead_letters"), g("rss_bytes"),
        ],
    },
    FamilySpec {
        name: "pg_statement_latency",
        group: None,
        retention_days: 7,
        columns: &[
            l("datname"), l("query_id"), g("calls"), g("p50_ms"), g("p95_ms"), g("p99_ms"),
            g("max_ms"), g("total_ms"),
        ],
    },
    FamilySpec {
        name: "pg_log_event",
        group: None,
        retention_days: 7,
        columns: &[
            l("severity"), l("category"), l("sqlstate"), l("datname"), l("username"),
            l("application_name"), g("pid"), g("duration_ms"), t("message"), l("kind"),
            t("template"), t("query_id"), t("relation"), t("lock_mode"), t("lock_object"),
            t("pids"), g("signal"), g("target_pid"), t("statement"), t("auth_method"),
            t("slot"), t("file"), g("buffers"), g("write_ms"), g("sync_ms"), g("distance_kb"),
            g("pages_removed"), g("tuples_removed"), g("tuples_frozen"), g("wal_bytes"),
            g("io_read_ms"), g("io_write_ms"), g("temp_bytes"),
        ],
    },
];

pub fn family(name: &str) -> Option<&'static FamilySpec> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The group that collects `family`, if it is collected on a schedule.
pub fn family_group(name: &str) -> Option<Group> {
    family(name).and_then(|f| f.group)
}

/// The longest retention of any family: the oldest timestamp any batch may carry.
pub fn max_retention_days() -> u32 {
    FAMILIES.iter().map(|f| f.retention_days).max().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn family_and_column_names_are_unique_sql_identifiers() {
        let mut names = HashSet::new();
        for f in FAMILIES {
            assert!(names.insert(f.name), "duplicate family {}", f.name);
            let mut cols = HashSet::new();
            for col in f.columns {
                assert!(
                    cols.insert(col.name),
                    "duplicate column {}.{}",
                    f.name,
                    col.name
                );
                assert!(col.name != TIME_COLUMN && col.name != "server_id");
                assert!(
                    col.name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                );
            }
        }
    }

    #[test]
    fn the_documented_family_table_matches_the_catalog() {
        let doc = include_str!("../../docs/api/metric-batch.md");
        for f in FAMILIES {
            let cols: Vec<String> = f
                .columns
                .iter()
                .map(|c| format!("`{}` {}", c.name, c.kind.as_str()))
                .collect();
            let row = format!(
                "| `{}` | {} | {} |",
                f.name,
                f.retention_days,
                cols.join(", ")
            );
            assert!(
                doc.lines().any(|l| l == row),
                "docs/api/metric-batch.md lacks or differs on:\n{row}"
            );
        }
    }

    #[test]
    fn the_families_the_foundation_promises_exist() {
        for name in [
            "pg_database",
            "pg_table",
            "pg_index",
            "pg_activity",
            "pg_bgwriter",
            "pg_replication",
            "sys_cpu",
            "sys_memory",
            "sys_load",
            "sys_disk_io",
            "sys_network",
            "disk_usage",
            "pg_log_event",
        ] {
            assert!(family(name).is_some(), "{name}");
        }
    }
}
