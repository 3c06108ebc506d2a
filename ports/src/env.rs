//! Time and randomness, passed in so that the core stays deterministic under test.

use pganalytics_domain::credentials::SecretBytes;
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    /// The current time, truncated to microseconds (PostgreSQL's resolution).
    fn now(&self) -> OffsetDateTime;
    /// Returns once this clock has moved on by `by`: real time for the system clock, an
    /// `advance` (or real time) for a test clock. How a use case waits on purpose (a
    /// login slowed down), so tests move the clock instead of waiting.
    async fn sleep(&self, by: time::Duration);
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait IdSource: Send + Sync {
    /// A fresh random (v4) UUID.
    fn uuid(&self) -> Uuid;
    /// 32 bytes from a cryptographically secure generator.
    fn secret(&self) -> SecretBytes;
    /// 6 random bytes for a token's public id.
    fn public_id(&self) -> [u8; 6];
}
