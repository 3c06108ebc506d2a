//! Whole backends: every port the server drives, from one set of adapters.
//!
//! - [`PostgresBackend`]: the stores on PostgreSQL (an external database, or a private
//!   cluster started from the installed binaries), the CA, the token key and the secrets key
//!   ring in the data directory.
//! - [`MemoryBackend`]: everything in memory, nothing written anywhere: the test harness,
//!   and the backend of a tool that embeds the domain.
//!
//! Both hand out a [`pganalytics_ports::Backend`], which holds only ports.

#[cfg(feature = "memory-backend")]
mod memory;
#[cfg(feature = "postgres-backend")]
mod postgres;

#[cfg(feature = "memory-backend")]
pub use memory::{MemoryBackend, MemoryOptions};
#[cfg(feature = "postgres-backend")]
pub use postgres::{DATABASE_NAME, OpenReport, PostgresBackend, StorageSettings};

/// Why a backend could not be built: which part failed, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct BackendError {
    pub what: &'static str,
    #[source]
    pub source: pganalytics_ports::BoxError,
}

/// `?` with the part that failed named.
pub(crate) trait Context<T> {
    fn part(self, what: &'static str) -> Result<T, BackendError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn part(self, what: &'static str) -> Result<T, BackendError> {
        self.map_err(|e| BackendError {
            what,
            source: Box::new(e),
        })
    }
}
