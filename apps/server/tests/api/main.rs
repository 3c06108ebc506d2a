//! Black-box tests of the server: the real app (through `pganalytics_server::harness`) on
//! port 0, real TLS 1.3 with client certificates, on the memory backend and on a real
//! PostgreSQL database per test (`api_tests!` runs each test on both). The tree mirrors the
//! route tree.

mod alerts;
mod cli;
mod collectors;
mod config;
mod console;
mod docs;
mod health;
mod helpers;
mod metrics;
mod people;
mod resilience;
mod schemathesis;
mod servers;
mod storage;
mod zero_config;
