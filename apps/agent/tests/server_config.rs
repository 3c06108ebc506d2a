//! The server's configuration for a collector changes the running agent's intervals and
//! families without a restart: the push answer announces the new version, the agent pulls it.

mod common;

use common::{Server, agent};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    counts: String,
}

/// The families of each stored batch, in arrival order.
fn batches(db: &mut PgConnection) -> Vec<BTreeSet<String>> {
    let rows: Vec<Counts> = diesel::sql_query(
        "SELECT counts::text AS counts FROM ingested_batches ORDER BY received_at",
    )
    .load(db)
    .unwrap();
    rows.iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.counts).unwrap();
            v["families"].as_object().unwrap().keys().cloned().collect()
        })
        .collect()
}

#[test]
fn a_configuration_change_on_the_server_reaches_the_running_agent() {
    let server = Server::start();
    let cluster = monitored_cluster(release_binaries(15), &[]);
    let state = tempfile::tempdir().unwrap();
    let id = server.register(state.path(), "db1");
    let mut db = PgConnection::establish(&server.db.url).unwrap();

    // Locally: activity every 2 s, everything else rarely.
    let mut child = agent()
        .arg("run")
        .arg("--state-dir")
        .arg(state.path())
        .env("PGANALYTICS_AGENT_DSN", cluster.url("postgres"))
        .env("PGANALYTICS_AGENT_INTERVALS__ACTIVITY", "2")
        .env("PGANALYTICS_AGENT_TAIL_LOGS", "false")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while batches(&mut db).len() < 2 {
        assert!(Instant::now() < deadline, "no batches");
        std::thread::sleep(Duration::from_millis(200));
    }

    // On the server: only sys_load, every second.
    let ca = std::fs::read_to_string(&server.ca_file).unwrap();
    let client = pganalytics_adapters::http::agent_trusting(&ca).unwrap();
    let body = serde_json::json!({
        "intervals": {"host": 1, "activity": 600},
        "enabled_families": ["sys_load"],
    });
    let mut res = client
        .put(&format!("{}/api/v1/config/{id}", server.url))
        .header("Authorization", &format!("Bearer {}", server.api_token))
        .send_json(&body)
        .unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(config["version"], 2);

    let only_load: BTreeSet<String> = ["agent", "sys_load"].map(str::to_owned).into();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recent = batches(&mut db);
        if recent.iter().rev().take(3).all(|b| *b == only_load) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new configuration was not applied: {recent:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = child.kill();
    let _ = child.wait();
}
