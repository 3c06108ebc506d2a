//! The golden corpus: real clusters of PostgreSQL 15, 16 and 18 are made to log every kind
//! the scenario provokes (a crashed backend, a failing archive_command, a deadlock, lock
//! and statement timeouts, too many connections, a wrong password and a missing pg_hba
//! entry, checkpoints too frequent, temporary files, autovacuum, a standby's start,
//! auto_explain in text and JSON, …), their logs are read back in all three formats, and
//! the events' shape is snapshotted (insta). The same scenario on PostgreSQL 15 logging in
//! German and in French gives the same kinds, read through the server's own catalogs.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use pganalytics_adapters::local_postgres::LocalCluster;
use pganalytics_adapters::logs::catalog::{self, MoCatalog};
use pganalytics_adapters::logs::read_from_start;
use pganalytics_adapters::test_clusters::{
    generated_locale, monitored_cluster_with, release_binaries, standby_of,
};
use pganalytics_adapters::testing::wait_until;
use pganalytics_domain::logs::{
    Classifier, English, LogEvent, LogFormat, LogParser, Redaction, Zones,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PREFIX: &str = "%m [%p] %q%u@%d %Q ";

/// Literals the scenario puts in statements and values; none may reach an event.
const SECRETS: &[&str] = &[
    "sekret-syntax-77",
    "sekret-value-5x",
    "sekret-key-91",
    "sekret-plan-text",
    "sekret-plan-json",
    "sekret-crash-13",
    "sekret-slow-42",
    "sekret-password-8",
];

/// The kinds every release is made to log (the primary's log).
const PROVOKED: &[&str] = &[
    "server_listening",
    "server_ready",
    "server_reload",
    "process_crashed",
    "terminating_other_processes",
    "server_reinitializing",
    "server_interrupted",
    "server_crash_recovery",
    "connection_received",
    "connection_authorized",
    "disconnection",
    "password_failed",
    "no_hba_entry",
    "too_many_clients",
    "checkpoint_starting",
    "checkpoint_complete",
    "checkpoints_too_frequent",
    "archive_command_failed",
    "archive_failed_too_many_times",
    "autovacuum",
    "autoanalyze",
    "lock_waiting",
    "lock_acquired",
    "deadlock_detected_while_waiting",
    "deadlock",
    "lock_timeout",
    "slow_statement",
    "statement",
    "statement_timeout",
    "undefined_table",
    "invalid_input_syntax",
    "unique_violation",
    "division_by_zero",
    "syntax_error",
    "parameter_changed",
    "temp_file",
];

/// With auto_explain (releases that ship it).
const PLANS: &[&str] = &["plan"];

/// The standby's log.
const STANDBY: &[&str] = &[
    "standby_mode",
    "redo_starts",
    "consistent_recovery_state",
    "streaming_started",
    "server_ready_read_only",
];

fn settings(lc_messages: &str) -> Vec<(&'static str, String)> {
    [
        ("logging_collector", "on"),
        ("log_destination", "stderr,csvlog,jsonlog"),
        ("log_directory", "log"),
        ("log_line_prefix", PREFIX),
        ("log_min_duration_statement", "40"),
        ("log_statement", "ddl"),
        ("log_checkpoints", "on"),
        ("log_lock_waits", "on"),
        ("deadlock_timeout", "100ms"),
        ("log_temp_files", "0"),
        ("log_connections", "on"),
        ("log_disconnections", "on"),
        ("log_autovacuum_min_duration", "0"),
        ("autovacuum_naptime", "1s"),
        ("archive_mode", "on"),
        ("archive_command", "false"),
        ("max_wal_size", "32MB"),
        ("min_wal_size", "32MB"),
        ("checkpoint_warning", "300s"),
        ("max_connections", "12"),
        ("log_timezone", "UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .chain([("lc_messages", lc_messages.to_owned())])
    .collect()
}

fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(60), ok);
}

fn connect(url: &str) -> PgConnection {
    PgConnection::establish(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Every event of the logs with `suffix` in `dir`, read from the beginning.
fn read_all(
    dir: &Path,
    suffix: &str,
    format: LogFormat,
    classifier: &Arc<Classifier>,
) -> Vec<LogEvent> {
    read_path(dir, suffix, format, PREFIX, classifier)
}

fn read_path(
    path: &Path,
    suffix: &str,
    format: LogFormat,
    prefix: &str,
    classifier: &Arc<Classifier>,
) -> Vec<LogEvent> {
    let mut parser = LogParser::with(format, prefix, classifier.clone(), Zones::default());
    read_from_start(path, suffix, &mut parser).unwrap_or_default()
}

fn kinds(events: &[LogEvent]) -> BTreeSet<&'static str> {
    events.iter().map(|e| e.kind).collect()
}

/// Runs `sql` on a new connection in a thread (it will block).
fn in_thread(url: &str, sql: &'static str) -> std::thread::JoinHandle<Result<(), String>> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut c = connect(&url);
        c.batch_execute(sql).map_err(|e| e.to_string())
    })
}

/// Waits until the stderr log has an event of `kind`.
fn logged(dir: &Path, classifier: &Arc<Classifier>, kind: &str) {
    wait_for(kind, || {
        kinds(&read_all(dir, ".log", LogFormat::Stderr, classifier)).contains(kind)
    });
}

fn scenario(cluster: &LocalCluster, classifier: &Arc<Classifier>, explain: bool) {
    let url = cluster.url("postgres");
    let dir = cluster.data_dir().join("log");
    let mut a = connect(&url);
    a.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10) g;
         CREATE TABLE k (key text PRIMARY KEY);
         INSERT INTO k VALUES ('sekret-key-91');
         SELECT pg_sleep(0.06), 'sekret-slow-42' AS marker;",
    )
    .unwrap();
    // Application errors.
    for bad in [
        "SELECT * FROM nope",
        "SELECT 'sekret-value-5x'::int",
        "INSERT INTO k VALUES ('sekret-key-91')",
        "SELECT 1 / 0",
        "SELEC 'sekret-syntax-77'",
    ] {
        assert!(a.batch_execute(bad).is_err(), "{bad}");
    }
    // Temporary files and a statement timeout.
    a.batch_execute(
        "SET work_mem = '64kB';
         SELECT count(*) FROM (SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC) s;
         RESET work_mem;",
    )
    .unwrap();
    assert!(
        a.batch_execute("SET statement_timeout = '50ms'; SELECT pg_sleep(2)")
            .is_err()
    );
    a.batch_execute("RESET statement_timeout").unwrap();

    // A lock wait that ends (acquired), then one that times out.
    a.batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let waiter = in_thread(&url, "SELECT count(*) FROM t");
    logged(&dir, classifier, "lock_waiting");
    a.batch_execute("COMMIT").unwrap();
    waiter.join().unwrap().unwrap();
    a.batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let timeout = in_thread(&url, "SET lock_timeout = '300ms'; SELECT count(*) FROM t");
    assert!(timeout.join().unwrap().is_err());
    a.batch_execute("COMMIT").unwrap();

    // A deadlock.
    let mut b = connect(&url);
    a.batch_execute("BEGIN; UPDATE t SET v = 'a' WHERE id = 1")
        .unwrap();
    b.batch_execute("BEGIN; UPDATE t SET v = 'b' WHERE id = 2")
        .unwrap();
    let first = in_thread_with(a, "UPDATE t SET v = 'a' WHERE id = 2");
    // The first waits past deadlock_timeout before the second closes the circle, so the
    // second is the one that finds the deadlock and the first acquires its lock.
    wait_for("the first of the deadlock to wait", || {
        read_all(&dir, ".log", LogFormat::Stderr, classifier)
            .iter()
            .any(|e| e.kind == "lock_waiting" && e.fields.lock_mode.as_deref() == Some("ShareLock"))
    });
    let second = b.batch_execute("UPDATE t SET v = 'b' WHERE id = 1");
    let mut a = first.join().unwrap();
    let _ = a.batch_execute("ROLLBACK");
    let _ = b.batch_execute("ROLLBACK");
    let _ = second;

    // Checkpoints: asked for, then forced by WAL volume (max_wal_size 32MB) in quick
    // succession; the archiver fails on every segment (archive_command = false).
    a.batch_execute(
        "CHECKPOINT;
         CREATE TABLE big AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 250000) g;
         SELECT pg_switch_wal();",
    )
    .unwrap();
    logged(&dir, classifier, "checkpoints_too_frequent");
    logged(&dir, classifier, "archive_failed_too_many_times");

    // Autovacuum and autoanalyze of a table with thresholds of one row.
    a.batch_execute(
        "CREATE TABLE av (id int, v text) WITH (autovacuum_vacuum_threshold = 1,
             autovacuum_vacuum_scale_factor = 0, autovacuum_analyze_threshold = 1,
             autovacuum_analyze_scale_factor = 0);
         INSERT INTO av SELECT g, 'x' FROM generate_series(1, 1000) g;
         DELETE FROM av WHERE id % 2 = 0;",
    )
    .unwrap();
    wait_for("the autovacuum of av", || {
        read_all(&dir, ".log", LogFormat::Stderr, classifier)
            .iter()
            .any(|e| {
                e.kind == "autovacuum" && e.fields.relation.as_deref() == Some("postgres.public.av")
            })
    });

    // A setting changed by a reload.
    a.batch_execute("ALTER SYSTEM SET work_mem = '5MB'")
        .unwrap();
    a.batch_execute("SELECT pg_reload_conf()").unwrap();
    logged(&dir, classifier, "parameter_changed");

    if explain {
        a.batch_execute(
            "LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0;
             SET auto_explain.log_analyze = on;
             SET auto_explain.log_verbose = on;
             SELECT * FROM t WHERE v = 'sekret-plan-text';
             SET auto_explain.log_format = 'json';
             SELECT * FROM t WHERE v = 'sekret-plan-json';
             SET auto_explain.log_min_duration = -1;",
        )
        .unwrap();
    }

    // Authentication: a wrong password, and a user pg_hba.conf has no line for.
    a.batch_execute("CREATE ROLE app LOGIN PASSWORD 'right-password'")
        .unwrap();
    std::fs::write(
        cluster.data_dir().join("pg_hba.conf"),
        "local replication all trust\nlocal all postgres trust\nlocal all app scram-sha-256\n",
    )
    .unwrap();
    a.batch_execute("SELECT pg_reload_conf()").unwrap();
    let app = url.replace("user=postgres", "user=app&password=sekret-password-8");
    wait_for("the new pg_hba.conf", || {
        PgConnection::establish(&app).is_err_and(|e| !e.to_string().is_empty())
            && kinds(&read_all(&dir, ".log", LogFormat::Stderr, classifier))
                .contains("password_failed")
    });
    let stranger = url.replace("user=postgres", "user=stranger");
    assert!(PgConnection::establish(&stranger).is_err());

    // Too many connections (max_connections = 12).
    let mut held = Vec::new();
    loop {
        match PgConnection::establish(&url) {
            Ok(c) => held.push(c),
            Err(_) => break,
        }
        assert!(held.len() < 20, "max_connections is not enforced");
    }
    drop(held);

    // A backend killed with SIGKILL: the postmaster resets every session and recovers.
    // (The closed sessions' slots free up once their backends have exited.)
    let mut victim = None;
    wait_for("a free connection slot", || {
        victim = PgConnection::establish(&url).ok();
        victim.is_some()
    });
    let mut victim = victim.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let pid: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut victim)
        .unwrap();
    let running = std::thread::spawn(move || {
        let _ = victim.batch_execute("SELECT pg_sleep(30), 'sekret-crash-13'");
    });
    wait_for("the statement to run", || {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {} AND state = 'active'",
            pid.pid
        ))
        .get_result::<N>(&mut a)
        .is_ok_and(|r| r.n == 1)
    });
    let killed = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    if let Err(e) = killed {
        let log = std::fs::read_to_string(cluster.log_file()).unwrap_or_default();
        let ps = std::process::Command::new("ps")
            .args(["-ef"])
            .output()
            .unwrap();
        panic!(
            "kill {}: {e}\n{}\n{}",
            pid.pid,
            String::from_utf8_lossy(&ps.stdout)
                .lines()
                .filter(|l| l.contains("postgres"))
                .collect::<Vec<_>>()
                .join("\n"),
            log
        );
    }
    running.join().unwrap();
    drop(a);
    wait_for("the server to recover", || {
        let events = read_all(&dir, ".log", LogFormat::Stderr, classifier);
        events.iter().filter(|e| e.kind == "server_ready").count() >= 2
            && PgConnection::establish(&url).is_ok()
    });
}

fn in_thread_with(mut c: PgConnection, sql: &'static str) -> std::thread::JoinHandle<PgConnection> {
    std::thread::spawn(move || {
        let _ = c.batch_execute(sql);
        c
    })
}

/// An event's shape for the snapshot: the English template it was read as (the same in
/// every language and for every value).
fn shape(e: &LogEvent) -> String {
    let template = pganalytics_domain::logs::kinds::template_of(&e.template).unwrap_or("?");
    template.lines().next().unwrap_or_default().to_owned()
}

/// The typed fields an event has.
fn field_names(e: &LogEvent) -> BTreeSet<&'static str> {
    let row = e.row(time::OffsetDateTime::UNIX_EPOCH);
    pganalytics_domain::logs::FIELD_COLUMNS
        .iter()
        .zip(row.iter().skip(12))
        .filter(|(c, v)| !v.is_null() && **c != "query_id")
        .map(|(c, _)| *c)
        .collect()
}

/// Per kind: its category, severities, fields, and its shortest message shape.
fn summary<'a>(
    events: impl Iterator<Item = &'a LogEvent>,
    kinds: &BTreeSet<&str>,
) -> BTreeMap<&'static str, String> {
    type Seen = (BTreeSet<String>, BTreeSet<&'static str>, BTreeSet<String>);
    let mut by_kind: BTreeMap<&'static str, Seen> = BTreeMap::new();
    for e in events.filter(|e| kinds.contains(e.kind)) {
        let entry = by_kind.entry(e.kind).or_default();
        entry.0.insert(e.severity.clone());
        entry.1.extend(field_names(e));
        entry.2.insert(shape(e));
    }
    let category = |k: &str| {
        pganalytics_domain::logs::KINDS
            .iter()
            .find(|s| s.name == k)
            .map_or("", |s| s.category.as_str())
    };
    by_kind
        .into_iter()
        .map(|(k, (sev, fields, templates))| {
            (
                k,
                format!(
                    "{k:<32} {:<12} {:<8} [{}] {}",
                    category(k),
                    sev.into_iter().collect::<Vec<_>>().join(","),
                    fields.into_iter().collect::<Vec<_>>().join(","),
                    templates.into_iter().collect::<Vec<_>>().join(" | "),
                ),
            )
        })
        .collect()
}

fn check(major: u32, lc_messages: &str) {
    let binaries = release_binaries(major);
    let explain = binaries.has_module("auto_explain");
    let env = if lc_messages == "C" {
        Vec::new()
    } else {
        vec![(
            "LOCPATH".to_owned(),
            generated_locale(lc_messages).display().to_string(),
        )]
    };
    let settings = settings(lc_messages);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let primary = monitored_cluster_with(binaries.clone(), &settings, &env);
    let classifier = Arc::new(
        match catalog::find(lc_messages, major, &catalog::default_locale_dirs(None)) {
            Some(path) => Classifier::new(&MoCatalog::open(&path).unwrap(), Redaction::default()),
            None => {
                assert_eq!(
                    lc_messages, "C",
                    "no catalog for {lc_messages} of PostgreSQL {major}"
                );
                Classifier::new(&English, Redaction::default())
            }
        },
    );
    let standby = (lc_messages == "C").then(|| standby_of(&primary, binaries.clone()));
    scenario(&primary, &classifier, explain);

    let dir = primary.data_dir().join("log");
    let mut expected: BTreeSet<&str> = PROVOKED.iter().copied().collect();
    if explain {
        expected.extend(PLANS);
    }
    let mut by_format = BTreeMap::new();
    for (suffix, format) in [
        (".log", LogFormat::Stderr),
        (".csv", LogFormat::Csv),
        (".json", LogFormat::Json),
    ] {
        let events = read_all(&dir, suffix, format, &classifier);
        let found = kinds(&events);
        let missing: Vec<&&str> = expected.iter().filter(|k| !found.contains(**k)).collect();
        assert!(
            missing.is_empty(),
            "PostgreSQL {major} ({lc_messages}) {suffix}: no event of {missing:?}; found {found:?}"
        );
        let rows = format!(
            "{:?}",
            events
                .iter()
                .map(|e| e.row(time::OffsetDateTime::UNIX_EPOCH))
                .collect::<Vec<_>>()
        );
        for secret in SECRETS {
            let leaks: Vec<&LogEvent> = events
                .iter()
                .filter(|e| {
                    format!("{:?}", e.row(time::OffsetDateTime::UNIX_EPOCH)).contains(secret)
                })
                .collect();
            assert!(
                !rows.contains(secret),
                "PostgreSQL {major} ({lc_messages}) {suffix}: {secret} leaked in {leaks:#?}"
            );
        }
        by_format.insert(suffix, events);
    }
    let stderr = &by_format[".log"];
    if std::env::var_os("CORPUS_DEBUG").is_some() {
        for e in stderr.iter().filter(|e| e.kind == "autovacuum").take(2) {
            eprintln!("DEBUG {}", e.message);
        }
    }
    // Typed fields of the kinds that have them.
    let crash = stderr.iter().find(|e| e.kind == "process_crashed").unwrap();
    assert_eq!(crash.fields.signal, Some(9.0), "{crash:?}");
    assert!(
        crash
            .fields
            .statement
            .as_deref()
            .is_some_and(|s| s.contains("pg_sleep(?)")),
        "{crash:?}"
    );
    let deadlock = stderr.iter().find(|e| e.kind == "deadlock").unwrap();
    assert_eq!(
        deadlock
            .fields
            .pids
            .as_deref()
            .map(|p| p.split(',').count()),
        Some(2),
        "{deadlock:?}"
    );
    let checkpoint = stderr
        .iter()
        .find(|e| e.kind == "checkpoint_complete")
        .unwrap();
    assert!(
        checkpoint.fields.buffers.is_some() && checkpoint.fields.distance_kb.is_some(),
        "{checkpoint:?}"
    );
    let vacuum = stderr.iter().find(|e| {
        e.kind == "autovacuum" && e.fields.relation.as_deref() == Some("postgres.public.av")
    });
    assert!(
        vacuum.is_some_and(|v| v.fields.tuples_removed.is_some() && v.fields.duration_ms.is_some()),
        "{vacuum:?}"
    );
    let archive = stderr
        .iter()
        .find(|e| e.kind == "archive_failed_too_many_times")
        .unwrap();
    assert_eq!(
        archive.fields.file.as_deref().map(str::len),
        Some(24),
        "{archive:?}"
    );
    let password = stderr.iter().find(|e| e.kind == "password_failed").unwrap();
    assert_eq!(
        password.fields.auth_method.as_deref(),
        Some("scram-sha-256"),
        "{password:?}"
    );
    if explain {
        // auto_explain with log_verbose names the query id: the plan links to its statement.
        let plans: Vec<&LogEvent> = stderr.iter().filter(|e| e.kind == "plan").collect();
        assert!(
            plans.len() >= 2 && plans.iter().all(|p| p.fields.query_id.is_some()),
            "{plans:?}"
        );
        assert!(
            plans.iter().any(|p| p.message.contains("\"Plan\"")),
            "a JSON plan: {plans:?}"
        );
    }
    let wait = stderr.iter().find(|e| e.kind == "lock_waiting").unwrap();
    assert!(
        wait.fields.lock_mode.is_some() && wait.fields.pids.is_some(),
        "{wait:?}"
    );
    assert!(
        stderr.iter().all(|e| e.time.is_some()),
        "every event has its time"
    );

    // One line per kind provoked.
    let mut lines = summary(stderr.iter(), &expected);
    if let Some(standby) = &standby {
        let read = || {
            read_path(
                &standby.log_file(),
                ".log",
                LogFormat::Stderr,
                "%m [%p] ",
                &classifier,
            )
        };
        wait_for("the standby's start in its log", || {
            let found = kinds(&read());
            STANDBY.iter().all(|k| found.contains(k))
        });
        let events = read();
        lines.extend(summary(events.iter(), &STANDBY.iter().copied().collect()));
    }
    let snapshot = lines.into_values().collect::<Vec<_>>().join("\n");
    let name = match lc_messages {
        "C" => format!("pg{major}"),
        other => format!("pg{major}_{}", &other[..2]),
    };
    insta::assert_snapshot!(name, snapshot);
}

#[test]
fn postgresql_15_logs_every_provoked_kind() {
    check(15, "C");
}

#[test]
fn postgresql_16_logs_every_provoked_kind() {
    check(16, "C");
}

#[test]
fn postgresql_18_logs_every_provoked_kind() {
    check(18, "C");
}

#[test]
fn postgresql_15_in_german_gives_the_same_kinds() {
    check(15, "de_DE.UTF-8");
}

#[test]
fn postgresql_15_in_french_gives_the_same_kinds() {
    check(15, "fr_FR.UTF-8");
}

/// RDS's default prefix (escapes followed by colons, `%t` without milliseconds) on a server
/// whose `log_timezone` is Moscow's: the agent reads the zone abbreviations from the server
/// and every event gets its exact time.
#[test]
fn rds_prefix_and_zone_abbreviations_give_every_event_its_time() {
    const RDS: &str = "%t:%r:%u@%d:[%p]:";
    for zone in ["Europe/Moscow", "Europe/Berlin"] {
        let settings = [
            ("logging_collector", "on"),
            ("log_destination", "stderr"),
            ("log_directory", "log"),
            ("log_line_prefix", RDS),
            ("log_min_duration_statement", "0"),
            ("log_connections", "on"),
            ("log_timezone", zone),
            ("lc_messages", "C"),
        ];
        let before = time::OffsetDateTime::now_utc() - Duration::from_secs(2);
        let cluster = monitored_cluster_with(release_binaries(15), &settings, &[]);
        let url = cluster.url("postgres");
        let mut c = connect(&url);
        c.batch_execute("SELECT 'zoned' AS marker").unwrap();
        let zones = pganalytics_adapters::pgstats::log_settings(&mut c)
            .unwrap()
            .zones;
        let dir = cluster.data_dir().join("log");
        let classifier = Arc::new(Classifier::default());
        let read = || {
            let mut parser = LogParser::with(
                LogFormat::Stderr,
                RDS,
                classifier.clone(),
                Zones::new(zones.clone()),
            );
            read_from_start(&dir, ".log", &mut parser).unwrap()
        };
        wait_for("the marker", || {
            read().iter().any(|e| e.message.contains("AS marker"))
        });
        let events = read();
        let after = time::OffsetDateTime::now_utc() + Duration::from_secs(2);
        let marker = events
            .iter()
            .find(|e| e.message.contains("AS marker"))
            .unwrap();
        assert_eq!(
            (marker.username.as_deref(), marker.datname.as_deref()),
            (Some("postgres"), Some("postgres")),
            "{zone}: {marker:?}"
        );
        for e in &events {
            let t = e
                .time
                .unwrap_or_else(|| panic!("{zone}: no time for {e:?}"));
            // `%t` has whole seconds.
            assert!(
                t >= before - Duration::from_secs(1) && t <= after,
                "{zone}: {t} for {e:?}"
            );
        }
        assert!(
            events.iter().any(|e| e.kind == "server_ready"),
            "{zone}: {events:#?}"
        );
    }
}

/// PgBouncer (Debian's) in front of a private cluster: logins, a server connection, a
/// pooler error, statistics, closings and the shutdown, read from its own log.
#[test]
fn pgbouncer_logs_are_events_of_their_own() {
    let pgbouncer = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("pgbouncer is not installed.\nFix: apt-get install pgbouncer");
    let cluster = monitored_cluster_with(release_binaries(15), &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("pgbouncer.log");
    let ini = dir.path().join("pgbouncer.ini");
    std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    std::fs::write(
        &ini,
        format!(
            "[databases]\npostgres = host={} port=5432 dbname=postgres\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\nlogfile = {}\npidfile = {}\n\
             stats_period = 1\nlog_connections = 1\nlog_disconnections = 1\nlog_pooler_errors = 1\n",
            cluster.socket_dir().display(),
            dir.path().join("users.txt").display(),
            log.display(),
            dir.path().join("pgbouncer.pid").display(),
        ),
    )
    .unwrap();
    // PgBouncer refuses to run as root: as `postgres` when the tests run as root.
    let root = nix::unistd::geteuid().is_root();
    if root {
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        for p in [dir.path().to_owned(), ini.clone()] {
            nix::unistd::chown(&p, Some(postgres.uid), Some(postgres.gid)).unwrap();
        }
    }
    let mut cmd = std::process::Command::new("setpriv");
    if root {
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
    }
    let mut child = cmd
        .arg("--")
        .arg(pgbouncer)
        .arg(&ini)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
    wait_for("PgBouncer to accept connections", || {
        PgConnection::establish(&url).is_ok()
    });
    let mut c = connect(&url);
    c.batch_execute("SELECT 1").unwrap();
    drop(c);
    assert!(
        PgConnection::establish(&format!("postgresql://postgres@127.0.0.1:{port}/nope")).is_err()
    );
    let classifier = Arc::new(Classifier::default());
    let read = || read_path(&log, ".log", LogFormat::Pgbouncer, "", &classifier);
    wait_for("PgBouncer's statistics", || {
        kinds(&read()).contains("pgbouncer_stats")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait().unwrap();
    let events = read();
    let found = kinds(&events);
    for kind in [
        "pgbouncer_started",
        "pgbouncer_listening",
        "pgbouncer_login",
        "pgbouncer_server_connection",
        "pgbouncer_pooler_error",
        "pgbouncer_closing",
        "pgbouncer_stats",
        "pgbouncer_shutdown",
    ] {
        assert!(found.contains(kind), "no {kind} in {events:#?}");
    }
    let login = events.iter().find(|e| e.kind == "pgbouncer_login").unwrap();
    assert_eq!(
        (login.datname.as_deref(), login.username.as_deref()),
        (Some("postgres"), Some("postgres"))
    );
    assert!(
        events.iter().all(|e| e.time.is_some() && e.pid.is_some()),
        "{events:#?}"
    );
    let unknown: Vec<&LogEvent> = events
        .iter()
        .filter(|e| e.category.as_str() != "pooler")
        .collect();
    assert!(
        unknown.is_empty(),
        "lines no PgBouncer kind knows: {unknown:#?}"
    );
}

/// PostgreSQL logging to syslog, written by a real rsyslog (Debian's) in its traditional
/// file format, with sequence numbers and multi-line messages split into chunks.
#[test]
fn syslog_lines_written_by_rsyslog_are_read() {
    let rsyslogd = Path::new("/usr/sbin/rsyslogd");
    assert!(
        rsyslogd.is_file(),
        "rsyslogd is not installed.\nFix: apt-get install rsyslog"
    );
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test gives rsyslogd the system's /dev/log, which takes root.\nFix: run the tests as root (as CI does)"
    );
    assert!(
        !Path::new("/dev/log").exists(),
        "/dev/log belongs to a running syslog daemon: PostgreSQL's syslog output would go there.\n\
         Fix: run this test where no syslog daemon runs (as CI does), or stop it for the run"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postgresql.log");
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "module(load=\"imuxsock\" SysSock.Name=\"/dev/log\")\n\
             $WorkDirectory {dir}\n\
             local0.* action(type=\"omfile\" file=\"{file}\" template=\"RSYSLOG_TraditionalFileFormat\")\n",
            dir = dir.path().display(),
            file = file.display()
        ),
    )
    .unwrap();
    let spawned = std::process::Command::new(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.path().join("rsyslogd.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_file("/dev/log");
        }
    }
    let rsyslog = Stop(spawned);
    wait_for("rsyslogd's /dev/log", || Path::new("/dev/log").exists());
    let prefix = "%m [%p] %q%u@%d ";
    let cluster = monitored_cluster_with(
        release_binaries(15),
        &[
            ("log_destination", "syslog"),
            ("syslog_facility", "local0"),
            ("log_line_prefix", prefix),
            ("log_min_duration_statement", "0"),
            ("lc_messages", "C"),
        ],
        &[],
    );
    let mut c = connect(&cluster.url("postgres"));
    c.batch_execute("SELECT 'sekret-syslog-1' AS first,\n  2 AS second_line")
        .unwrap();
    let _ = c.batch_execute("SELECT * FROM missing_in_syslog");
    let classifier = Arc::new(Classifier::default());
    let read = || read_path(&file, ".log", LogFormat::Syslog, prefix, &classifier);
    wait_for("the statements in rsyslog's file", || {
        let events = read();
        events.iter().any(|e| e.kind == "undefined_table")
            && events.iter().any(|e| e.message.contains("second_line"))
    });
    drop(rsyslog);
    let events = read();
    let multi = events
        .iter()
        .find(|e| e.message.contains("second_line"))
        .unwrap();
    assert_eq!(multi.kind, "slow_statement", "{multi:?}");
    assert!(
        multi.message.contains("AS first,\n  ? AS second_line"),
        "{multi:?}"
    );
    assert!(
        events.iter().all(|e| e.time.is_some() && e.pid.is_some()),
        "{events:#?}"
    );
    assert!(!format!("{events:?}").contains("sekret-syslog-1"));
    assert!(
        events.iter().any(|e| e.kind == "server_ready"),
        "{events:#?}"
    );
}
