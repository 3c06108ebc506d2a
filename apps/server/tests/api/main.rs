//! Black-box tests of the server: the real app on port 0, real TLS 1.3 with client
//! certificates, a real PostgreSQL database per test. The tree mirrors the route tree.

mod collectors;
mod config;
mod docs;
mod health;
mod helpers;
mod metrics;
mod people;
mod resilience;
mod servers;
mod zero_config;
