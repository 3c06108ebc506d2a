//! `/api/v1/notification-channels`: where alerts go. Secrets are write-only: sealed with
//! the server's key ring, never returned or logged.

pub mod deliveries;
pub mod manage;
pub mod view;
