//! Every Grafana panel's SQL runs against the real schema, as the read-only role, on a
//! database holding the example batch; the panels the example feeds return rows.

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::testing::TestDatabase;
use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::credentials::{RegistrationSecret, RegistrationToken};
use pganalytics_ports::store::{CollectorStore, MetricStore, RegistrationTokenStore};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Grafana's macros, expanded the way its PostgreSQL data source does for a 6-hour range.
fn expand(sql: &str, server: i64) -> String {
    let out = sql
        .replace(
            "$__timeGroupAlias(time, $__interval)",
            "date_bin('60 seconds', time, TIMESTAMPTZ '2000-01-01') AS \"time\"",
        )
        .replace(
            "$__timeFilter(time)",
            "time BETWEEN now() - interval '6 hours' AND now() + interval '5 minutes'",
        )
        .replace("$server", &server.to_string());
    assert!(
        !out.contains("$__"),
        "a macro this test does not expand: {sql}"
    );
    out
}

async fn ingest_example(store: &PgStore, collector: CollectorId, at: OffsetDateTime, commits: i64) {
    let mut b: Value =
        serde_json::from_str(include_str!("../../docs/examples/batch.json")).unwrap();
    let original = OffsetDateTime::parse(b["collected_at"].as_str().unwrap(), &Rfc3339).unwrap();
    b["collector_id"] = collector.to_string().into();
    b["batch_id"] = uuid::Uuid::new_v4().to_string().into();
    b["collected_at"] = at.format(&Rfc3339).unwrap().into();
    b["metrics"][0]["rows"][0][2] = commits.into();
    for block in b["metrics"].as_array_mut().unwrap() {
        if block["columns"][0] == "time" {
            for row in block["rows"].as_array_mut().unwrap() {
                let t = OffsetDateTime::parse(row[0].as_str().unwrap(), &Rfc3339).unwrap();
                row[0] = (at + (t - original)).format(&Rfc3339).unwrap().into();
            }
        }
    }
    let ctx = ValidationContext {
        collector_id: collector,
        now: at,
        limits: BatchLimits::default(),
    };
    let validated = batch::parse_and_validate(b.to_string().as_bytes(), &ctx).unwrap();
    store.ingest(&validated, at).await.unwrap();
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_runs_as_the_reader_role_and_the_fed_panels_return_rows() {
    let db = TestDatabase::create();
    let store = PgStore::connect(&db.url, &PoolOptions::default()).unwrap();
    let secret = RegistrationSecret::from_bytes(&[3; 32]);
    let now = pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc());
    store
        .create_registration_token(
            &RegistrationToken {
                id: uuid::Uuid::new_v4(),
                hash: secret.hash(),
                uses_left: 1,
                expires_at: now + Duration::hours(1),
                created_at: now,
            },
            &pganalytics_ports::contract::audit("registration_token.create"),
        )
        .await
        .unwrap();
    let collector = pganalytics_ports::contract::collector("grafana-test");
    store
        .enroll(
            &secret.hash(),
            &collector,
            now,
            &pganalytics_ports::contract::audit("collector.register"),
        )
        .await
        .unwrap();
    ingest_example(&store, collector.id, now - Duration::minutes(2), 1_000).await;
    ingest_example(&store, collector.id, now - Duration::minutes(1), 1_600).await;
    let server = store.list_servers().await.unwrap()[0].id;

    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    diesel::sql_query("SET ROLE pganalytics_reader")
        .execute(&mut conn)
        .await
        .unwrap();

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../grafana/dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let dash: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for var in dash["templating"]["list"].as_array().unwrap() {
            let sql = expand(var["query"].as_str().unwrap(), server);
            let n: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM ({sql}) q"))
                .get_result(&mut conn)
                .await
                .unwrap();
            assert_eq!(n.n, 1, "template variable {} lists the server", var["name"]);
        }
        for panel in dash["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{title}: a panel without a query");
            for target in targets {
                assert_eq!(
                    target["datasource"]["uid"], "pganalytics",
                    "{title}: the provisioned data source"
                );
                let sql = expand(target["rawSql"].as_str().unwrap(), server);
                let n = diesel::sql_query(format!("SELECT count(*) AS n FROM ({sql}) q"))
                    .get_result::<Count>(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{} / {title}: {e}\n{sql}", path.display()))
                    .n;
                let fed_by_example =
                    !["Replication lag", "Disk usage", "Rollbacks per second"].contains(&title);
                if fed_by_example {
                    assert!(n > 0, "{title}: no rows from the example batch\n{sql}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} panel queries found");

    // The reader sees no credentials.
    for secret_sql in [
        "SELECT count(*) AS n FROM api_tokens",
        "SELECT count(*) AS n FROM registration_tokens",
        "SELECT count(cert_fingerprint) AS n FROM collectors",
    ] {
        let denied = diesel::sql_query(secret_sql)
            .get_result::<Count>(&mut conn)
            .await;
        assert!(denied.is_err(), "the reader role can run {secret_sql}");
        diesel::sql_query("ROLLBACK").execute(&mut conn).await.ok();
    }
}
