//! The store contract suite against the in-memory adapter.
#![cfg(feature = "memory")]

use pganalytics_adapters::memory::MemoryStore;

async fn fresh() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

pganalytics_ports::store_contract_tests!(fresh());
