//! Every built-in alert rule, table-driven on the in-memory backend with a moved clock:
//! it stays quiet on a healthy series, fires on a crafted one, and resolves when the
//! condition clears (issue 12).
//!
//! Each scenario describes rows of one family as the agent sends them: labels, gauges
//! (a healthy and an unhealthy value), counters (increments per step, healthy and
//! unhealthy, accumulated as the agent's cumulative counters are), gauges that move by a
//! step (for predictions) and timestamps given as an age. One step is one minute: the
//! harness pushes a batch, checks the collector in, moves the clock and evaluates.

use pganalytics_adapters::memory::sandbox::RuleSandbox;
use pganalytics_adapters::system::TestClock;
use pganalytics_domain::alerts::builtin;
use pganalytics_domain::alerts::state::{AlertState, Phase};
use pganalytics_domain::audit::AuditContext;
use pganalytics_ports::env::Clock;
use pganalytics_ports::store::{AlertRuleStore, CollectorStore};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// One cell of a crafted row.
#[derive(Debug, Clone, Copy)]
enum C {
    /// A label or text value.
    L(&'static str),
    /// A gauge: (healthy, unhealthy).
    G(f64, f64),
    /// A counter: increments per step (healthy, unhealthy), accumulated.
    K(f64, f64),
    /// A gauge moving by a step: (start, healthy step, unhealthy step), accumulated.
    S(f64, f64, f64),
    /// A timestamp this many seconds before now: (healthy, unhealthy).
    A(f64, f64),
    /// No value.
    N,
}
use C::*;

/// When a family's rows are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Emit {
    Always,
    /// Only while unhealthy (log events).
    OnlyBad,
    /// Only while healthy (a family that goes silent).
    OnlyGood,
}

#[derive(Debug, Clone)]
struct Block {
    family: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<C>>,
    emit: Emit,
}

#[derive(Debug, Clone)]
struct Scenario {
    rule: &'static str,
    blocks: Vec<Block>,
    /// Healthy steps before the trouble starts (baselines need a day).
    warmup: i64,
    /// The agent checks in only while healthy.
    agent_stops: bool,
}

fn s(
    rule: &'static str,
    family: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<C>>,
) -> Scenario {
    Scenario {
        rule,
        blocks: vec![Block {
            family,
            columns,
            rows,
            emit: Emit::Always,
        }],
        warmup: 30,
        agent_stops: false,
    }
}

fn log(rule: &'static str, rows: Vec<Vec<C>>) -> Scenario {
    let mut sc = s(
        rule,
        "pg_log_event",
        &[
            "severity", "category", "kind", "sqlstate", "datname", "message",
        ],
        rows,
    );
    sc.blocks[0].emit = Emit::OnlyBad;
    sc
}

fn warm(mut sc: Scenario, steps: i64) -> Scenario {
    sc.warmup = steps;
    sc
}

const ACT: &[&str] = &[
    "datname",
    "state",
    "wait_event_type",
    "sessions",
    "longest_xact_seconds",
    "longest_query_seconds",
    "longest_idle_in_xact_seconds",
    "blocked_sessions",
];
const DB: &[&str] = &[
    "datname",
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "temp_bytes",
    "deadlocks",
    "size_bytes",
    "datfrozenxid_age",
    "datminmxid_age",
];
const SRV: &[&str] = &[
    "start_time",
    "max_connections",
    "connections",
    "checksum_failures",
    "oldest_prepared_xact_seconds",
    "statements_dealloc",
];
const CPU: &[&str] = &[
    "cpu",
    "user_ms",
    "nice_ms",
    "system_ms",
    "idle_ms",
    "iowait_ms",
    "irq_ms",
    "softirq_ms",
    "steal_ms",
];
const DISK: &[&str] = &[
    "mountpoint",
    "device",
    "fstype",
    "role",
    "total_bytes",
    "available_bytes",
    "inodes_total",
    "inodes_available",
];
const REPL: &[&str] = &[
    "application_name",
    "state",
    "sent_lag_bytes",
    "replay_lag_bytes",
    "replay_lag_seconds",
];
const SLOT: &[&str] = &[
    "slot_name",
    "slot_type",
    "active",
    "retained_wal_bytes",
    "safe_wal_size_bytes",
];
const AGENT: &[&str] = &[
    "collector",
    "errors",
    "skipped_ticks",
    "spool_bytes",
    "dropped_records",
    "dead_letters",
    "rss_bytes",
];

const GIB: f64 = 1_073_741_824.0;

/// A database row: commits, rollbacks, reads, hits, temp bytes, deadlocks per step, size,
/// ages; each argument (healthy, unhealthy).
fn db(rollback: C, read: C, temp: C, deadlock: C, size: C, xid: C, mxid: C) -> Vec<C> {
    vec![
        L("app"),
        K(1000.0, 1000.0),
        rollback,
        read,
        K(100_000.0, 100_000.0),
        temp,
        deadlock,
        size,
        xid,
        mxid,
    ]
}
fn db_ok() -> (C, C, C, C, C, C, C) {
    (
        K(5.0, 5.0),
        K(100.0, 100.0),
        K(0.0, 0.0),
        K(0.0, 0.0),
        G(1e9, 1e9),
        G(1e6, 1e6),
        G(1e6, 1e6),
    )
}

fn activity(state: &'static str, c: [C; 5]) -> Vec<C> {
    let mut r = vec![L("app"), L(state), N];
    r.extend(c);
    r
}

fn server(start: C, conns: C, checksum: C, prepared: C, dealloc: C) -> Vec<C> {
    vec![start, G(100.0, 100.0), conns, checksum, prepared, dealloc]
}

fn cpu(user: C, idle: C, iowait: C, steal: C) -> Vec<C> {
    vec![
        L("all"),
        user,
        K(0.0, 0.0),
        K(1000.0, 1000.0),
        idle,
        iowait,
        K(0.0, 0.0),
        K(0.0, 0.0),
        steal,
    ]
}

fn disk(role: &'static str, avail: C, inodes: C) -> Vec<C> {
    vec![
        L("/data"),
        L("sdb"),
        L("ext4"),
        L(role),
        G(100.0 * GIB, 100.0 * GIB),
        avail,
        G(1e6, 1e6),
        inodes,
    ]
}

fn repl(state: &'static str, lag_bytes: C, lag_s: C) -> Vec<C> {
    vec![L("standby1"), L(state), G(0.0, 0.0), lag_bytes, lag_s]
}

fn agent_row(errors: C, skipped: C, spool: C, dropped: C, dead: C, rss: C) -> Vec<C> {
    vec![L("pg_database"), errors, skipped, spool, dropped, dead, rss]
}
fn agent_ok() -> [C; 6] {
    [
        K(0.0, 0.0),
        K(0.0, 0.0),
        G(0.0, 0.0),
        K(0.0, 0.0),
        K(0.0, 0.0),
        G(5e7, 5e7),
    ]
}
fn agent_with(i: usize, c: C) -> Vec<C> {
    let mut a = agent_ok();
    a[i] = c;
    agent_row(a[0], a[1], a[2], a[3], a[4], a[5])
}

fn scenarios() -> Vec<Scenario> {
    let (rb, rd, tb, dl, sz, xid, mx) = db_ok();
    vec![
        s(
            "pg_connections_near_max",
            "pg_server",
            SRV,
            vec![server(
                A(86_400.0, 86_400.0),
                G(20.0, 97.0),
                K(0.0, 0.0),
                N,
                K(0.0, 0.0),
            )],
        ),
        s(
            "pg_idle_in_transaction",
            "pg_activity",
            ACT,
            vec![activity(
                "idle in transaction",
                [G(1.0, 1.0), G(5.0, 900.0), N, G(5.0, 900.0), G(0.0, 0.0)],
            )],
        ),
        s(
            "pg_long_transaction",
            "pg_activity",
            ACT,
            vec![activity(
                "active",
                [G(3.0, 3.0), G(60.0, 7200.0), G(1.0, 1.0), N, G(0.0, 0.0)],
            )],
        ),
        s(
            "pg_long_running_query",
            "pg_activity",
            ACT,
            vec![activity(
                "active",
                [G(3.0, 3.0), G(60.0, 1200.0), G(1.0, 1200.0), N, G(0.0, 0.0)],
            )],
        ),
        s(
            "pg_blocked_sessions",
            "pg_activity",
            ACT,
            vec![activity(
                "active",
                [G(3.0, 3.0), G(1.0, 1.0), G(1.0, 1.0), N, G(0.0, 4.0)],
            )],
        ),
        s(
            "pg_lock_waits_many",
            "pg_lock",
            &["datname", "locktype", "mode", "granted", "waiting"],
            vec![vec![
                L("app"),
                L("relation"),
                L("RowExclusiveLock"),
                G(10.0, 10.0),
                G(0.0, 50.0),
            ]],
        ),
        s(
            "pg_prepared_transaction_old",
            "pg_server",
            SRV,
            vec![server(
                A(86_400.0, 86_400.0),
                G(20.0, 20.0),
                K(0.0, 0.0),
                G(10.0, 7200.0),
                K(0.0, 0.0),
            )],
        ),
        s(
            "pg_deadlocks",
            "pg_database",
            DB,
            vec![db(rb, rd, tb, K(0.0, 1.0), sz, xid, mx)],
        ),
        s(
            "pg_rollback_ratio_high",
            "pg_database",
            DB,
            vec![db(K(5.0, 600.0), rd, tb, dl, sz, xid, mx)],
        ),
        s(
            "pg_cache_hit_ratio_low",
            "pg_database",
            DB,
            vec![db(rb, K(100.0, 50_000.0), tb, dl, sz, xid, mx)],
        ),
        s(
            "pg_temp_bytes_high",
            "pg_database",
            DB,
            vec![db(
                rb,
                rd,
                K(0.0, 60.0 * 50.0 * 1_048_576.0),
                dl,
                sz,
                xid,
                mx,
            )],
        ),
        s(
            "pg_checkpoints_requested",
            "pg_bgwriter",
            &["checkpoints_timed", "checkpoints_req"],
            vec![vec![K(0.2, 0.0), K(0.0, 1.0)]],
        ),
        s(
            "pg_replication_lag_bytes",
            "pg_replication",
            REPL,
            vec![repl("streaming", G(1e6, 2.0 * GIB), G(0.1, 0.1))],
        ),
        s(
            "pg_replication_lag_seconds",
            "pg_replication",
            REPL,
            vec![repl("streaming", G(1e6, 1e6), G(0.5, 900.0))],
        ),
        Scenario {
            blocks: vec![
                Block {
                    family: "pg_replication",
                    columns: REPL,
                    rows: vec![vec![
                        L("standby1"),
                        L("catchup"),
                        G(0.0, 0.0),
                        G(0.0, 0.0),
                        G(0.0, 0.0),
                    ]],
                    emit: Emit::OnlyBad,
                },
                Block {
                    family: "pg_replication",
                    columns: REPL,
                    rows: vec![repl("streaming", G(0.0, 0.0), G(0.0, 0.0))],
                    emit: Emit::OnlyGood,
                },
            ],
            ..s("pg_standby_not_streaming", "", &[], vec![])
        },
        Scenario {
            blocks: vec![Block {
                family: "pg_wal_receiver",
                columns: &["sender_host", "last_message_age_seconds"],
                rows: vec![vec![L("primary"), G(1.0, 1.0)]],
                emit: Emit::OnlyGood,
            }],
            ..s("pg_wal_receiver_down", "", &[], vec![])
        },
        s(
            "pg_wal_receiver_stale",
            "pg_wal_receiver",
            &["sender_host", "last_message_age_seconds"],
            vec![vec![L("primary"), G(1.0, 900.0)]],
        ),
        s(
            "pg_standby_replay_lag",
            "pg_wal_receiver",
            &["sender_host", "replay_lag_seconds"],
            vec![vec![L("primary"), G(1.0, 900.0)]],
        ),
        s(
            "pg_replication_slot_inactive",
            "pg_replication_slot",
            SLOT,
            vec![vec![
                L("old_standby"),
                L("physical"),
                G(1.0, 0.0),
                G(1e6, 5e8),
                N,
            ]],
        ),
        s(
            "pg_replication_slot_retains_much_wal",
            "pg_replication_slot",
            SLOT,
            vec![vec![
                L("s1"),
                L("physical"),
                G(1.0, 1.0),
                G(1e6, 20.0 * GIB),
                N,
            ]],
        ),
        s(
            "pg_replication_slot_near_wal_limit",
            "pg_replication_slot",
            SLOT,
            vec![vec![
                L("s1"),
                L("physical"),
                G(1.0, 1.0),
                G(1e6, 1e6),
                G(10.0 * GIB, 0.1 * GIB),
            ]],
        ),
        s(
            "pg_xid_wraparound",
            "pg_database",
            DB,
            vec![db(rb, rd, tb, dl, sz, G(1e6, 1.2e9), mx)],
        ),
        s(
            "pg_multixact_wraparound",
            "pg_database",
            DB,
            vec![db(rb, rd, tb, dl, sz, xid, G(1e6, 1.6e9))],
        ),
        s(
            "pg_dead_tuples_high",
            "pg_table",
            &[
                "datname",
                "schemaname",
                "relname",
                "n_live_tup",
                "n_dead_tup",
            ],
            vec![vec![
                L("app"),
                L("public"),
                L("orders"),
                G(1e6, 1e6),
                G(1e3, 5e5),
            ]],
        ),
        s(
            "pg_table_not_autovacuumed",
            "pg_table",
            &[
                "datname",
                "schemaname",
                "relname",
                "n_dead_tup",
                "last_autovacuum",
            ],
            vec![vec![
                L("app"),
                L("public"),
                L("orders"),
                G(5e4, 5e4),
                A(3600.0, 10.0 * 86_400.0),
            ]],
        ),
        s(
            "pg_long_vacuum",
            "pg_vacuum_progress",
            &["datname", "relname", "phase", "duration_seconds"],
            vec![vec![
                L("app"),
                L("orders"),
                L("scanning heap"),
                G(60.0, 5000.0),
            ]],
        ),
        s(
            "pg_archiver_failing",
            "pg_archiver",
            &[
                "archived_count",
                "failed_count",
                "last_archived_time",
                "last_failed_time",
            ],
            vec![vec![K(1.0, 0.0), K(0.0, 1.0), A(30.0, 30.0), N]],
        ),
        s(
            "pg_archive_stalled",
            "pg_archiver",
            &[
                "archived_count",
                "failed_count",
                "last_archived_time",
                "last_failed_time",
            ],
            vec![vec![
                K(1.0, 0.0),
                K(0.0, 1.0),
                A(30.0, 7200.0),
                A(86_400.0, 30.0),
            ]],
        ),
        s(
            "pg_invalid_index",
            "pg_index",
            &[
                "datname",
                "schemaname",
                "relname",
                "indexrelname",
                "is_valid",
            ],
            vec![vec![
                L("app"),
                L("public"),
                L("orders"),
                L("orders_new_idx"),
                G(1.0, 0.0),
            ]],
        ),
        s(
            "pg_checksum_failures",
            "pg_server",
            SRV,
            vec![server(
                A(86_400.0, 86_400.0),
                G(20.0, 20.0),
                K(0.0, 1.0),
                N,
                K(0.0, 0.0),
            )],
        ),
        s(
            "pg_statements_evicted",
            "pg_server",
            SRV,
            vec![server(
                A(86_400.0, 86_400.0),
                G(20.0, 20.0),
                K(0.0, 0.0),
                N,
                K(0.0, 5.0),
            )],
        ),
        warm(
            s(
                "pg_statement_regressed",
                "pg_statement",
                &["datname", "username", "queryid", "calls", "exec_time_ms"],
                vec![vec![
                    L("app"),
                    L("web"),
                    L("42"),
                    G(100.0, 100.0),
                    G(100.0, 1000.0),
                ]],
            ),
            25 * 60,
        ),
        warm(
            s(
                "pg_database_growing_fast",
                "pg_database",
                DB,
                vec![db(rb, rd, tb, dl, G(1e9, 3e9), xid, mx)],
            ),
            25 * 60,
        ),
        s(
            "pg_server_restarted",
            "pg_server",
            SRV,
            vec![server(
                A(86_400.0, 60.0),
                G(20.0, 20.0),
                K(0.0, 0.0),
                N,
                K(0.0, 0.0),
            )],
        ),
        Scenario {
            blocks: vec![Block {
                family: "pg_database",
                columns: DB,
                rows: vec![db(rb, rd, tb, dl, sz, xid, mx)],
                emit: Emit::OnlyGood,
            }],
            ..s("pg_target_unreachable", "", &[], vec![])
        },
        log(
            "pg_log_errors_many",
            vec![
                vec![
                    L("ERROR"),
                    L("application"),
                    L("other_error"),
                    L("23505"),
                    L("app"),
                    L("duplicate key")
                ];
                30
            ],
        ),
        log(
            "pg_log_fatal_many",
            vec![
                vec![
                    L("FATAL"),
                    L("server"),
                    L("other_fatal"),
                    L("57P01"),
                    L("app"),
                    L("terminating connection")
                ];
                5
            ],
        ),
        log(
            "pg_log_panic",
            vec![vec![
                L("PANIC"),
                L("other"),
                L("other_panic"),
                L("XX000"),
                N,
                L("could not write"),
            ]],
        ),
        log(
            "pg_backend_crashed",
            vec![vec![
                L("LOG"),
                L("server"),
                L("process_crashed"),
                N,
                N,
                L("server process (PID 42) was terminated by signal 9: Killed"),
            ]],
        ),
        log(
            "pg_archive_failing",
            vec![vec![
                L("LOG"),
                L("archive"),
                L("archive_command_failed"),
                N,
                N,
                L("archive command failed with exit code 1"),
            ]],
        ),
        log(
            "pg_checkpoints_too_frequent",
            vec![
                vec![
                    L("LOG"),
                    L("checkpoint"),
                    L("checkpoints_too_frequent"),
                    N,
                    N,
                    L("checkpoints are occurring too frequently (9 seconds apart)")
                ];
                3
            ],
        ),
        log(
            "pg_log_deadlock",
            vec![vec![
                L("ERROR"),
                L("lock"),
                L("deadlock"),
                L("40P01"),
                L("app"),
                L("deadlock detected"),
            ]],
        ),
        log(
            "pg_out_of_memory",
            vec![vec![
                L("ERROR"),
                L("application"),
                L("other_error"),
                L("53200"),
                L("app"),
                L("out of memory"),
            ]],
        ),
        log(
            "pg_disk_full_errors",
            vec![vec![
                L("ERROR"),
                L("application"),
                L("other_error"),
                L("53100"),
                L("app"),
                L("could not extend file"),
            ]],
        ),
        log(
            "pg_too_many_connections_refused",
            vec![vec![
                L("FATAL"),
                L("server"),
                L("other_fatal"),
                L("53300"),
                N,
                L("sorry, too many clients already"),
            ]],
        ),
        log(
            "pg_data_corruption_errors",
            vec![vec![
                L("ERROR"),
                L("application"),
                L("other_error"),
                L("XX001"),
                L("app"),
                L("invalid page in block"),
            ]],
        ),
        log(
            "pg_authentication_failures",
            vec![
                vec![
                    L("FATAL"),
                    L("connection"),
                    L("password_failed"),
                    L("28P01"),
                    L("app"),
                    L("password authentication failed")
                ];
                10
            ],
        ),
        log(
            "pg_lock_waits_logged",
            vec![
                vec![
                    L("LOG"),
                    L("lock"),
                    L("lock_waiting"),
                    N,
                    L("app"),
                    L("still waiting for ShareLock")
                ];
                3
            ],
        ),
        // The host.
        s(
            "host_cpu_busy",
            "sys_cpu",
            CPU,
            vec![cpu(
                K(10_000.0, 230_000.0),
                K(230_000.0, 100.0),
                K(0.0, 0.0),
                K(0.0, 0.0),
            )],
        ),
        s(
            "host_cpu_iowait",
            "sys_cpu",
            CPU,
            vec![cpu(
                K(10_000.0, 10_000.0),
                K(230_000.0, 100_000.0),
                K(0.0, 130_000.0),
                K(0.0, 0.0),
            )],
        ),
        s(
            "host_cpu_steal",
            "sys_cpu",
            CPU,
            vec![cpu(
                K(10_000.0, 10_000.0),
                K(230_000.0, 190_000.0),
                K(0.0, 0.0),
                K(0.0, 40_000.0),
            )],
        ),
        s(
            "host_load_per_cpu",
            "sys_load",
            &["load5", "cpus"],
            vec![vec![G(1.0, 20.0), G(4.0, 4.0)]],
        ),
        s(
            "host_memory_available_low",
            "sys_memory",
            &["total_bytes", "available_bytes"],
            vec![vec![G(16.0 * GIB, 16.0 * GIB), G(8.0 * GIB, 0.5 * GIB)]],
        ),
        s(
            "host_swap_used",
            "sys_memory",
            &["swap_total_bytes", "swap_free_bytes"],
            vec![vec![G(4.0 * GIB, 4.0 * GIB), G(4.0 * GIB, 0.2 * GIB)]],
        ),
        s(
            "host_disk_space_low",
            "disk_usage",
            DISK,
            vec![disk("other", G(50.0 * GIB, 3.0 * GIB), G(9e5, 9e5))],
        ),
        s(
            "pg_data_disk_space_low",
            "disk_usage",
            DISK,
            vec![disk(
                "data_directory",
                G(50.0 * GIB, 3.0 * GIB),
                G(9e5, 9e5),
            )],
        ),
        s(
            "pg_wal_disk_space_low",
            "disk_usage",
            DISK,
            vec![disk("wal", G(50.0 * GIB, 3.0 * GIB), G(9e5, 9e5))],
        ),
        s(
            "host_disk_full_within_24h",
            "disk_usage",
            DISK,
            vec![disk(
                "data_directory",
                S(90.0 * GIB, 0.0, -0.2 * GIB),
                G(9e5, 9e5),
            )],
        ),
        s(
            "host_inodes_low",
            "disk_usage",
            DISK,
            vec![disk("other", G(50.0 * GIB, 50.0 * GIB), G(9e5, 1e4))],
        ),
        s(
            "host_disk_io_saturated",
            "sys_disk_io",
            &["device", "io_time_ms"],
            vec![vec![L("sdb"), K(6000.0, 59_000.0)]],
        ),
        s(
            "host_pressure_cpu",
            "sys_pressure",
            &["resource", "some_avg60"],
            vec![vec![L("cpu"), G(2.0, 80.0)]],
        ),
        s(
            "host_pressure_memory",
            "sys_pressure",
            &["resource", "full_avg60"],
            vec![vec![L("memory"), G(0.0, 40.0)]],
        ),
        s(
            "host_pressure_io",
            "sys_pressure",
            &["resource", "full_avg60"],
            vec![vec![L("io"), G(1.0, 60.0)]],
        ),
        s(
            "host_network_errors",
            "sys_network",
            &["interface", "rx_errors", "tx_errors"],
            vec![vec![L("eth0"), K(0.0, 300.0), K(0.0, 0.0)]],
        ),
        // pgAnalytics itself.
        Scenario {
            blocks: vec![Block {
                family: "pg_database",
                columns: DB,
                rows: vec![db(rb, rd, tb, dl, sz, xid, mx)],
                emit: Emit::OnlyGood,
            }],
            agent_stops: true,
            ..s("agent_silent", "", &[], vec![])
        },
        s(
            "agent_spool_backlog",
            "agent",
            AGENT,
            vec![agent_with(2, G(1e6, 200e6))],
        ),
        s(
            "agent_spool_dropping",
            "agent",
            AGENT,
            vec![agent_with(3, K(0.0, 3.0))],
        ),
        s(
            "agent_dead_letters",
            "agent",
            AGENT,
            vec![agent_with(4, K(0.0, 1.0))],
        ),
        s(
            "agent_collector_failing",
            "agent",
            AGENT,
            vec![agent_with(0, K(0.0, 1.0))],
        ),
        s(
            "agent_skipping_ticks",
            "agent",
            AGENT,
            vec![agent_with(1, K(0.0, 2.0))],
        ),
        s(
            "agent_memory_high",
            "agent",
            AGENT,
            vec![agent_with(5, G(5e7, 1e9))],
        ),
    ]
}

/// The store, the clock, one registered collector, and the evaluator.
struct World {
    sandbox: RuleSandbox,
    /// Accumulated counters and moving gauges, per (block, row, column).
    acc: std::collections::HashMap<(usize, usize, usize), f64>,
}

impl std::ops::Deref for World {
    type Target = RuleSandbox;
    fn deref(&self) -> &RuleSandbox {
        &self.sandbox
    }
}

impl World {
    async fn new() -> Self {
        let now = TestClock::new().now();
        let mut sandbox = RuleSandbox::new("db-host", now, now + Duration::days(90))
            .await
            .unwrap();
        // As the server evaluates: each rule once per collection interval of its family.
        sandbox.eval.paced = true;
        Self {
            sandbox,
            acc: Default::default(),
        }
    }

    /// Enables only `rule` (the built-in, as shipped).
    async fn only(&self, rule: &str) {
        let spec = builtin::rules()
            .unwrap()
            .into_iter()
            .find(|r| r.name() == rule)
            .unwrap_or_else(|| panic!("{rule} is not a built-in rule"))
            .spec;
        self.add_rule(spec, true).await.unwrap();
    }

    fn cell(&mut self, key: (usize, usize, usize), c: C, bad: bool, now: OffsetDateTime) -> Value {
        let pick = |g: f64, b: f64| if bad { b } else { g };
        match c {
            L(s) => json!(s),
            N => Value::Null,
            G(g, b) => json!(pick(g, b)),
            K(g, b) => {
                let v = self.acc.entry(key).or_insert(1_000_000.0);
                *v += pick(g, b);
                json!(*v as i64)
            }
            S(start, g, b) => {
                let v = self.acc.entry(key).or_insert(start);
                *v = (*v + pick(g, b)).max(0.0);
                json!(*v)
            }
            A(g, b) => json!(
                (now - Duration::seconds_f64(pick(g, b)))
                    .format(&Rfc3339)
                    .unwrap()
            ),
        }
    }

    /// One minute of a scenario: send what the agent would, check in, evaluate.
    async fn step(&mut self, sc: &Scenario, bad: bool) {
        self.clock.advance(Duration::minutes(1));
        let now = self.clock.now();
        let mut metrics = Vec::new();
        for (b, block) in sc.blocks.iter().enumerate() {
            let send = match block.emit {
                Emit::Always => true,
                Emit::OnlyBad => bad,
                Emit::OnlyGood => !bad,
            };
            if !send {
                continue;
            }
            let rows: Vec<Value> = (0..block.rows.len())
                .map(|r| {
                    Value::Array(
                        (0..block.columns.len())
                            .map(|c| self.cell((b, r, c), block.rows[r][c], bad, now))
                            .collect(),
                    )
                })
                .collect();
            metrics.push(json!({"family": block.family, "instance": "main", "columns": block.columns, "rows": rows}));
        }
        self.push(metrics, now)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", sc.rule));
        if !(sc.agent_stops && bad) {
            self.check_in().await.unwrap();
        }
        let report = self.eval.run_once().await.unwrap();
        assert_eq!(
            report.failed_rules,
            0,
            "{}: {:?}",
            sc.rule,
            self.store.get_rule(sc.rule).await.unwrap().last_error
        );
    }

    async fn alerts(&self, rule: &str) -> Vec<AlertState> {
        self.sandbox.alerts(rule).await.unwrap()
    }
}

/// Runs one scenario; returns (steps to fire, steps to resolve).
async fn run(sc: &Scenario) -> (i64, i64) {
    let mut w = World::new().await;
    w.only(sc.rule).await;
    // Healthy: nothing fires (nor even pends).
    for _ in 0..sc.warmup {
        w.step(sc, false).await;
        let a = w.alerts(sc.rule).await;
        assert!(
            a.is_empty(),
            "{}: raised on a healthy series: {a:#?}",
            sc.rule
        );
    }
    // Unhealthy: it fires.
    let mut fired = None;
    for i in 1..=600 {
        w.step(sc, true).await;
        if w.alerts(sc.rule)
            .await
            .iter()
            .any(|a| a.phase == Phase::Firing)
        {
            fired = Some(i);
            break;
        }
    }
    let fired = fired.unwrap_or_else(|| panic!("{}: did not fire in 10 hours of trouble", sc.rule));
    // Healthy again: it resolves.
    let mut resolved = None;
    for i in 1..=900 {
        w.step(sc, false).await;
        let a = w.alerts(sc.rule).await;
        if !a.is_empty() && a.iter().all(|a| a.phase == Phase::Resolved) {
            resolved = Some(i);
            break;
        }
    }
    let resolved =
        resolved.unwrap_or_else(|| panic!("{}: did not resolve in 15 hours of health", sc.rule));
    (fired, resolved)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_built_in_rule_fires_on_trouble_stays_quiet_when_healthy_and_resolves() {
    let table = scenarios();
    let mut names: Vec<&str> = table.iter().map(|s| s.rule).collect();
    names.sort_unstable();
    let mut shipped: Vec<String> = builtin::rules()
        .unwrap()
        .into_iter()
        .map(|r| r.name().to_owned())
        .filter(|n| n != "collector_certificate_expiring")
        .collect();
    shipped.sort_unstable();
    assert_eq!(names, shipped, "one scenario per built-in rule");
    let mut failures = Vec::new();
    for sc in &table {
        let sc = sc.clone();
        let name = sc.rule;
        match tokio::spawn(async move { run(&sc).await }).await {
            Ok((f, r)) => eprintln!("{name}: fired after {f} min, resolved {r} min later"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_certificate_that_was_not_renewed_raises_its_alert_and_a_renewal_resolves_it() {
    let w = World::new().await;
    w.only("collector_certificate_expiring").await;
    let sc = s(
        "collector_certificate_expiring",
        "sys_load",
        &["load1"],
        vec![vec![G(0.1, 0.1)]],
    );
    let mut w = w;
    w.step(&sc, false).await;
    assert!(
        w.alerts(sc.rule).await.is_empty(),
        "90 days left is healthy"
    );
    // 75 days on, the agent never renewed: 15 days left.
    w.clock.advance(Duration::days(75));
    w.step(&sc, false).await;
    let a = w.alerts(sc.rule).await;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].phase, Phase::Firing);
    assert_eq!(a[0].labels["collector"], "db-host");
    // It renews: the new certificate ends 90 days from now.
    let current = w
        .store
        .get_collector(w.collector)
        .await
        .unwrap()
        .certificate;
    let mut renewed = current.clone();
    renewed.not_after = w.clock.now() + Duration::days(90);
    renewed.serial = "0B".into();
    w.store
        .replace_certificate(
            w.collector,
            &current.fingerprint,
            renewed,
            &AuditContext::cli(None).entry("collector.renew", None, w.clock.now()),
        )
        .await
        .unwrap();
    for _ in 0..10 {
        w.step(&sc, false).await;
    }
    assert_eq!(w.alerts(sc.rule).await[0].phase, Phase::Resolved);
}

/// Paced as the server paces: a rule over a family collected every 5 minutes evaluates each
/// server once in each 5 minutes, at a phase of its own, and an alert of a server not
/// evaluated in a cycle stays as it is (is neither resolved nor re-judged).
#[tokio::test]
async fn a_paced_rule_evaluates_each_server_once_per_interval_and_leaves_the_others_be() {
    let w = World::new().await;
    w.only("pg_invalid_index").await;
    let start = w.clock.now();
    let mut runs = 0;
    for step in 0..80 {
        let now = start + Duration::seconds(15 * step);
        w.clock.set(now);
        if step % 20 == 0 {
            let blocks: Vec<Value> = ["a", "b"]
                .iter()
                .map(|instance| {
                    json!({"family": "pg_index", "instance": instance,
                           "columns": ["datname", "schemaname", "relname", "indexrelname", "is_valid"],
                           "rows": [["app", "public", "t", "t_idx", 0]]})
                })
                .collect();
            w.push(blocks, now).await.unwrap();
        }
        w.check_in().await.unwrap();
        let report = w.eval.run_once().await.unwrap();
        assert_eq!(report.rules + report.not_due, 1);
        runs += report.rules;
        let alerts = w.alerts("pg_invalid_index").await;
        assert!(
            alerts.iter().all(|a| a.phase != Phase::Resolved),
            "step {step}: an alert resolved while its index stayed invalid: {alerts:#?}"
        );
        if step >= 60 {
            assert_eq!(alerts.len(), 2);
            assert!(
                alerts.iter().all(|a| a.phase == Phase::Firing),
                "{alerts:#?}"
            );
        }
    }
    // 20 minutes: the first cycle, then each of the two servers once per 5 minutes.
    assert!(
        (4..=9).contains(&runs),
        "the rule ran in {runs} of 80 cycles"
    );
}
