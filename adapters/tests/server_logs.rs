//! The log parser on real server logs: clusters of PostgreSQL 15, 16 and 18 write stderr,
//! csvlog and jsonlog at once; each format, tailed through a rotation, yields the same
//! events, classified, with statement literals redacted.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use pganalytics_adapters::logs::read_from_start;
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};
use pganalytics_adapters::testing::wait_until;
use pganalytics_domain::logs::{LogEvent, LogFormat, LogParser};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const PREFIX: &str = "%m [%p] %q%u@%d ";

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("logging_collector", "on"),
        ("log_destination", "stderr,csvlog,jsonlog"),
        ("log_directory", "log"),
        ("log_line_prefix", PREFIX),
        ("log_min_duration_statement", "0"),
        ("log_checkpoints", "on"),
        ("log_lock_waits", "on"),
        ("deadlock_timeout", "100ms"),
        ("log_temp_files", "0"),
        ("log_connections", "on"),
        ("lc_messages", "C"),
        ("log_timezone", "UTC"),
    ]
}

/// Waits (up to 20 s) until `ok` holds.
fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(20), ok);
}

/// The server's log files with `suffix`, and whether any of them holds `text`.
fn log_files(log_dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(log_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

fn logged(log_dir: &Path, suffix: &str, text: &str) -> bool {
    log_files(log_dir, suffix)
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(text)))
}

fn workload(url: &str, bad_db_url: &str, log_dir: &Path) {
    let mut a = PgConnection::establish(url).unwrap();
    a.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, secret text);
         INSERT INTO t VALUES (1, 'hunter2');
         SET work_mem = '64kB';
         SELECT count(*) FROM (SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC) s;
         CHECKPOINT;",
    )
    .unwrap();
    let _ = a.batch_execute("SELECT * FROM nope WHERE secret = 'hunter2'");
    let _ = PgConnection::establish(bad_db_url); // FATAL: database does not exist
    // A lock wait longer than deadlock_timeout.
    a.batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let url2 = url.to_owned();
    let waiter = std::thread::spawn(move || {
        let mut b = PgConnection::establish(&url2).unwrap();
        b.batch_execute("SELECT * FROM t").unwrap();
    });
    // Held past deadlock_timeout: the server logs the wait.
    wait_for("the lock wait in the log", || {
        logged(log_dir, ".log", "still waiting for AccessShareLock")
    });
    a.batch_execute("COMMIT").unwrap();
    waiter.join().unwrap();
}

fn tail_all(dir: &Path, suffix: &str, format: LogFormat) -> Vec<LogEvent> {
    read_from_start(dir, suffix, &mut LogParser::new(format, PREFIX)).unwrap()
}

fn check_release(major: u32) {
    let cluster = monitored_cluster(release_binaries(major), &settings());
    let url = cluster.url("postgres");
    let dir = cluster.data_dir().join("log");
    workload(&url, &cluster.url("no_such_db"), &dir);
    // Rotate, then more work in the new files.
    let files = log_files(&dir, ".log").len();
    let mut c = PgConnection::establish(&url).unwrap();
    // File names have a resolution of a second: a rotation within the second of the current
    // file reopens it. Rotate until the server has started a new file.
    wait_for("the rotated log file", || {
        c.batch_execute("SELECT pg_rotate_logfile()").unwrap();
        log_files(&dir, ".log").len() > files
    });
    c.batch_execute("SELECT 'after rotation' AS marker")
        .unwrap();
    // The logging collector writes asynchronously: wait until every format has the marker.
    wait_for("the marker in every format", || {
        [".log", ".csv", ".json"]
            .iter()
            .all(|s| logged(&dir, s, "AS marker"))
    });

    for (suffix, format) in [
        (".log", LogFormat::Stderr),
        (".csv", LogFormat::Csv),
        (".json", LogFormat::Json),
    ] {
        let events = tail_all(&dir, suffix, format);
        let kinds: BTreeSet<&str> = events.iter().map(|e| e.kind).collect();
        for expected in [
            "slow_statement",
            "checkpoint_complete",
            "temp_file",
            "undefined_table",
            "database_missing",
            "lock_waiting",
            "connection_authorized",
        ] {
            assert!(
                kinds.contains(expected),
                "PostgreSQL {major} {suffix}: no {expected} event in {kinds:?}"
            );
        }
        let all = format!("{events:?}");
        assert!(
            !all.contains("hunter2"),
            "PostgreSQL {major} {suffix}: a literal leaked"
        );
        assert!(
            events.iter().any(|e| e.message.contains("AS marker")),
            "PostgreSQL {major} {suffix}: the file after the rotation is read"
        );
        let error = events.iter().find(|e| e.kind == "undefined_table").unwrap();
        // csvlog and jsonlog always carry the SQLSTATE; stderr only with %e in the prefix.
        let expected = (format != LogFormat::Stderr).then_some("42P01");
        assert_eq!(error.sqlstate.as_deref(), expected);
        assert!(
            events.iter().all(|e| e.time.is_some()),
            "every event has its own time"
        );
        let slow = events.iter().find(|e| e.kind == "slow_statement").unwrap();
        assert!(slow.duration_ms().is_some() && slow.pid.is_some());
    }
}

#[test]
fn real_logs_of_postgresql_15_in_three_formats() {
    check_release(15);
}

#[test]
fn real_logs_of_postgresql_16_in_three_formats() {
    check_release(16);
}

#[test]
fn real_logs_of_postgresql_18_in_three_formats() {
    check_release(18);
}
