//! Time and randomness, passed in so that the core stays deterministic under test.

use pganalytics_domain::credentials::SecretBytes;
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time, truncated to microseconds (PostgreSQL's resolution).
    fn now(&self) -> OffsetDateTime;
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
