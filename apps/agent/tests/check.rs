//! `pganalytics-agent check` on real PostgreSQL and a real server: errors make it fail with
//! the fix; optional features missing are warnings with theirs.

mod common;

use common::{Server, agent};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};

fn check(state: &std::path::Path, dsn: &str) -> (bool, String) {
    let out = agent()
        .arg("check")
        .arg("--state-dir")
        .arg(state)
        .env("PGANALYTICS_AGENT_DSN", dsn)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn missing_grants_and_registration_are_errors_with_their_fix() {
    let cluster = monitored_cluster(release_binaries(15), &[]);
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    admin.batch_execute("CREATE ROLE monitor LOGIN").unwrap();
    let dsn = cluster
        .url("postgres")
        .replace("user=postgres", "user=monitor");
    let state = tempfile::tempdir().unwrap();

    let (ok, text) = check(state.path(), &dsn);
    assert!(!ok, "{text}");
    assert!(text.contains("GRANT pg_monitor TO \"monitor\";"), "{text}");
    assert!(text.contains("pganalytics-agent register"), "{text}");
    assert!(
        text.contains("main: pg_database"),
        "every collector is run: {text}"
    );

    let (ok, text) = check(state.path(), "host=/nonexistent port=1 user=x");
    assert!(!ok);
    assert!(
        text.contains("main: connection") && text.contains("pg_hba.conf"),
        "{text}"
    );
}

#[test]
fn a_registered_agent_with_grants_passes_and_optional_features_are_warnings() {
    let server = Server::start();
    let cluster = monitored_cluster(release_binaries(15), &[("track_io_timing", "off")]);
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    admin
        .batch_execute("CREATE ROLE monitor LOGIN IN ROLE pg_monitor")
        .unwrap();
    let dsn = cluster
        .url("postgres")
        .replace("user=postgres", "user=monitor");
    let state = tempfile::tempdir().unwrap();
    server.register(state.path(), "db1");

    let (ok, text) = check(state.path(), &dsn);
    assert!(ok, "{text}");
    assert!(text.contains("member of pg_monitor"), "{text}");
    assert!(
        text.contains("the client certificate is accepted"),
        "{text}"
    );
    assert!(
        text.contains("CREATE EXTENSION pg_stat_statements"),
        "{text}"
    );
    assert!(text.contains("track_io_timing = on"), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
}
