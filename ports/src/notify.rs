//! The notifier port: sends one message to one channel.

use async_trait::async_trait;
use pganalytics_domain::alerts::channel::{Channel, Message};
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The receiver is down or answered 5xx / 429: try again later.
    #[error("{0}")]
    Retry(String),
    /// The receiver refused the message for good (4xx, a bad address): do not retry.
    #[error("{0}")]
    Permanent(String),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `message` through `channel` with its decrypted `secret`. The message's
    /// idempotency key goes along (a header, a dedup key) so a receiver can drop a resend.
    async fn send<'a>(
        &self,
        channel: &Channel,
        secret: Option<&'a SecretString>,
        message: &Message,
    ) -> Result<(), NotifyError>;
}
