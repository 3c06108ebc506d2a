//! The store contract suite against PostgreSQL: each test on a database of its own.

use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::testing::TestDatabase;

async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create();
    let store = PgStore::connect(&db.url, &PoolOptions::default()).unwrap();
    (store, db)
}

pganalytics_ports::store_contract_tests!(fresh());
