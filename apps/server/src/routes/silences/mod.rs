//! `/api/v1/silences`: matchers over a time window; covered alerts change state but nobody
//! is notified.

pub mod create;
pub mod expire;
pub mod list;
