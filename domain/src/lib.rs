#![doc = include_str!("../README.md")]

pub mod access;
pub mod alerts;
pub mod audit;
pub mod batch;
pub mod catalog;
pub mod collect;
pub mod collector;
pub mod config;
pub mod console;
pub mod credentials;
pub mod delivery;
pub mod fleet;
pub mod hash;
pub mod logs;
pub mod rates;
pub mod redact;
pub mod relations;
pub mod rollup;
pub mod schedule;
pub mod statements;
pub mod throttle;
pub mod users;

/// Truncates a timestamp to whole microseconds, the resolution PostgreSQL stores, so that a
/// value round-trips through the database unchanged.
pub fn truncate_to_micros(t: time::OffsetDateTime) -> time::OffsetDateTime {
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}
