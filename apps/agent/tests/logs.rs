//! The agent tails the monitored server's log, found from the server's own settings, and
//! delivers its events once: a restart resumes at the saved position.

mod common;

use common::{Server, agent};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn run_agent(state: &std::path::Path, dsn: &str) -> Child {
    agent()
        .arg("run")
        .arg("--state-dir")
        .arg(state)
        .env("PGANALYTICS_AGENT_DSN", dsn)
        .env("PGANALYTICS_AGENT_LOGS_FROM_BEGINNING", "true")
        .env("PGANALYTICS_AGENT_LOG_FORMAT", "json")
        .env("PGANALYTICS_AGENT_LATENCY_WINDOW_SECONDS", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(db: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(db).unwrap().n
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn server_log_events_are_delivered_once_across_a_restart() {
    let server = Server::start();
    let cluster = monitored_cluster(
        release_binaries(15),
        &[
            ("logging_collector", "on"),
            ("log_directory", "log"),
            ("log_line_prefix", "%m [%p] %q%u@%d "),
            ("log_min_duration_statement", "0"),
            ("lc_messages", "C"),
        ],
    );
    let dsn = cluster.url("postgres");
    let state = tempfile::tempdir().unwrap();
    server.register(state.path(), "db1");
    let mut db = PgConnection::establish(&server.db.url).unwrap();
    let mut target = PgConnection::establish(&dsn).unwrap();
    let _ = target.batch_execute("SELECT * FROM first_missing_table");

    let first = run_agent(state.path(), &dsn);
    let errors = "SELECT count(*) AS n FROM metrics.pg_log_event WHERE kind = 'undefined_table' \
                  AND message LIKE '%first_missing_table%'";
    wait_for("the first error event", || count(&mut db, errors) == 1);
    let slow = "SELECT count(*) AS n FROM metrics.pg_log_event WHERE kind = 'slow_statement' \
                AND message LIKE '%secret_marker%'";
    target
        .batch_execute("SELECT 'hunter2' AS secret_marker")
        .unwrap();
    wait_for("the slow statement event", || count(&mut db, slow) == 1);
    // Its duration also counts in the statement latency quantiles.
    let latency = "SELECT count(*) AS n FROM metrics.pg_statement_latency \
                   WHERE datname = 'postgres' AND calls >= 1 AND p99_ms >= p50_ms \
                   AND max_ms >= p99_ms AND total_ms > 0";
    wait_for("the statement latency rows", || {
        count(&mut db, latency) >= 1
    });
    stop(first);

    // After a restart, only what is new arrives.
    let _ = target.batch_execute("SELECT * FROM second_missing_table");
    let second = run_agent(state.path(), &dsn);
    let second_errors = "SELECT count(*) AS n FROM metrics.pg_log_event \
                         WHERE message LIKE '%second_missing_table%'";
    wait_for("the event written while the agent was down", || {
        count(&mut db, second_errors) == 1
    });
    // Anything read again would come from earlier in the file than the new event, so in its
    // batch or an earlier one: delivered in spool order, those are all stored by now.
    stop(second);
    assert_eq!(count(&mut db, errors), 1, "nothing read twice");
    assert_eq!(count(&mut db, slow), 1);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) AS n FROM metrics.pg_log_event WHERE message LIKE '%hunter2%'"
        ),
        0,
        "statement literals are redacted"
    );
}
