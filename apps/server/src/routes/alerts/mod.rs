//! `/api/v1/alerts`: what fires, what fired, and acknowledging it.

pub mod ack;
pub mod get;
pub mod list;
