//! Alerting behaviour only PostgreSQL has: one leader among servers sharing a database, and
//! SQL rules that run read-only, as the rule reader, under a statement timeout.

use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::testing::TestDatabase;
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{LeaderLease, MetricStore};
use std::time::Duration;

fn store(db: &TestDatabase) -> PgStore {
    PgStore::connect(&db.url, &PoolOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_two_servers_leads_and_the_other_takes_over_when_it_goes() {
    let db = TestDatabase::create();
    let (a, b) = (store(&db), store(&db));
    assert!(a.try_lead("alerts").await.unwrap());
    assert!(!b.try_lead("alerts").await.unwrap(), "the lock is held");
    assert!(
        a.try_lead("alerts").await.unwrap(),
        "the leader keeps leading"
    );
    // Another task is led independently.
    assert!(b.try_lead("notifications").await.unwrap());
    drop(a);
    // The leader's session closes with it; the other server takes over.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if b.try_lead("alerts").await.unwrap() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "nobody took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_rules_read_the_metrics_and_can_neither_write_nor_run_long_nor_read_secrets() {
    let db = TestDatabase::create();
    let s = store(&db);
    let t = Duration::from_secs(2);
    let rows = s
        .run_rule_sql(
            "SELECT 7 AS server_id, 'app' AS datname, count(*)::float8 + 3 AS value FROM metrics.pg_database",
            t,
            10,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].server_id, Some(7));
    assert_eq!(rows[0].value, Some(3.0));
    assert_eq!(rows[0].labels["datname"], "app");
    // A read-only transaction still lets a large object be made: every rule is rolled back.
    s.run_rule_sql("SELECT lo_create(0)::text::float8 AS value", t, 10)
        .await
        .unwrap();
    let left = s
        .run_rule_sql(
            "SELECT count(*)::float8 AS value FROM pg_largeobject_metadata",
            t,
            10,
        )
        .await
        .unwrap();
    assert_eq!(left[0].value, Some(0.0), "nothing a rule does lasts");
    for (query, says) in [
        (
            "SELECT 1 AS value; DELETE FROM metrics.pg_database",
            "syntax",
        ),
        (
            "WITH d AS (DELETE FROM metrics.pg_database RETURNING 1) SELECT 1 AS value FROM d",
            "data-modifying",
        ),
        (
            "SELECT pg_sleep(5)::text AS x, 1 AS value",
            "statement timeout",
        ),
        ("SELECT count(*) AS value FROM users", "permission denied"),
        (
            "SELECT 1 AS value FROM (SELECT set_config('role', 'postgres', true)) x",
            "permission denied",
        ),
        ("SELECT 'x' AS label", "`value`"),
        (
            "SELECT generate_series(1, 20) AS value",
            "more than 10 rows",
        ),
    ] {
        match s.run_rule_sql(query, t, 10).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains(says), "{query}: {m}"),
            other => panic!("{query}: {other:?}"),
        }
    }
}
