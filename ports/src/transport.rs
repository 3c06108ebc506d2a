//! How the agent talks to its server, and where it keeps the batches the server refused for
//! good (sync: the agent is threads).

use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::PushResult;
use secrecy::SecretString;
use std::time::Duration;

use crate::BoxError;

/// The server's answer to a push, as the delivery rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAnswer {
    pub result: PushResult,
    /// The server's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
    /// The server's JSON answer (or the transport error): the dead-letter reason.
    pub body: String,
}

impl PushAnswer {
    /// `next_config_version` of a successful push's answer.
    pub fn next_config_version(&self) -> Option<i64> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()?
            .get("next_config_version")?
            .as_i64()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The client cannot be set up: an unusable CA, certificate or key.
    #[error("{0}")]
    Setup(String),
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server answered with an error (its `error.code` and `error.message`).
    #[error("the server refused ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer is not what was expected: {0}")]
    BadAnswer(String),
}

impl TransportError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A registered collector's line to its server (mutual TLS plus its collector token).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Transport: Send + Sync {
    /// Pushes one zstd-compressed batch with the current collector token. Never fails: no
    /// answer at all is a [`PushResult::NetworkError`].
    fn push(&self, batch: &[u8]) -> PushAnswer;

    /// Replaces the collector token with a fresh one, got with the client certificate alone
    /// (what an expired or rejected token calls for), and keeps it for the next start.
    fn refresh_token(&self) -> Result<(), TransportError>;

    /// The collector's configuration on the server, unless its version is `etag` (`None`).
    ///
    /// # Errors
    /// `Refused` with status 401 when the collector token is not accepted.
    #[allow(clippy::needless_lifetimes)] // mockall cannot mock `Option<&str>` unnamed
    fn config<'a>(&self, etag: Option<&'a str>) -> Result<Option<CollectorConfig>, TransportError>;

    /// A new certificate for the key of `csr_pem` (PEM), proving the collector with its
    /// current one.
    fn renew_certificate(&self, csr_pem: &str) -> Result<String, TransportError>;

    /// Uses a renewed certificate and its key from now on.
    fn use_certificate(&self, cert_pem: &str, key_pem: &SecretString)
    -> Result<(), TransportError>;
}

/// Where batches the server refused for good are kept, with the reason, for a person to
/// look at: they never block the batches behind them.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait DeadLetters: Send + Sync {
    /// Keeps the spooled record `spool_id` and the server's answer, durably.
    fn keep(&self, spool_id: u64, payload: &[u8], reason: &str) -> Result<(), BoxError>;
}
