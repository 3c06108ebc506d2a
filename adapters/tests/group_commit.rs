//! Group commit on PostgreSQL, where the database itself rejects a batch: what only a real
//! database can do to a group (the rest of the contract is in the shared suite).

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::testing::TestDatabase;
use pganalytics_ports::StoreError;
use pganalytics_ports::contract::{database_batch, registered};
use pganalytics_ports::store::{IngestOutcome, MetricStore};
use time::OffsetDateTime;
use uuid::Uuid;

async fn exec(url: &str, sql: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

async fn rows(url: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM metrics.pg_database")
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_database_rejects_fails_alone_and_the_rest_of_its_group_is_stored() {
    let db = TestDatabase::create();
    let store = PgStore::connect(&db.url, &PoolOptions::default()).unwrap();
    let c = registered(&store).await;
    // Only a batch of five or more databases has a `db4` row; the database refuses it.
    exec(
        &db.url,
        "CREATE FUNCTION public.refuse_db4() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN IF NEW.datname = 'db4' THEN RAISE EXCEPTION 'db4 is refused'; END IF; RETURN NEW; END $$",
    )
    .await;
    exec(
        &db.url,
        "CREATE TRIGGER refuse_db4 BEFORE INSERT ON metrics.pg_database \
         FOR EACH ROW EXECUTE FUNCTION public.refuse_db4()",
    )
    .await;
    let at = OffsetDateTime::now_utc();
    let group = [
        database_batch(c, Uuid::new_v4(), at, 2),
        database_batch(c, Uuid::new_v4(), at, 5),
        database_batch(c, Uuid::new_v4(), at, 3),
    ];
    let results = store.ingest_group(&group, at).await;
    assert!(
        matches!(results[0], Ok(IngestOutcome::Inserted(_))),
        "{results:?}"
    );
    assert!(
        matches!(results[2], Ok(IngestOutcome::Inserted(_))),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], Err(StoreError::Unknown(_))),
        "the refused batch fails, and not as an outage: {results:?}"
    );
    assert_eq!(
        rows(&db.url).await,
        2 + 3,
        "its neighbours' rows, none of its own"
    );

    // Nothing of it was recorded: once the database takes it, it is stored, once.
    exec(&db.url, "DROP TRIGGER refuse_db4 ON metrics.pg_database").await;
    let retried = store.ingest_group(&group, at).await;
    assert!(
        matches!(retried[0], Ok(IngestOutcome::Replayed(_))),
        "{retried:?}"
    );
    assert!(
        matches!(retried[1], Ok(IngestOutcome::Inserted(_))),
        "{retried:?}"
    );
    assert!(
        matches!(retried[2], Ok(IngestOutcome::Replayed(_))),
        "{retried:?}"
    );
    assert_eq!(rows(&db.url).await, 2 + 5 + 3);
}
