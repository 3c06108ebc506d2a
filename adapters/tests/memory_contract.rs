//! The store contract suite against the in-memory adapter.

use pganalytics_adapters::memory::MemoryStore;

async fn fresh() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

pganalytics_ports::store_contract_tests!(fresh());
