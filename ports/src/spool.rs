//! The agent's durable queue of batches waiting to be delivered (sync: the agent is threads).

use crate::BoxError;

/// A spooled batch: its spool id (increasing) and its bytes (a compressed batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecord {
    pub id: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records appended and not yet acknowledged.
    pub records: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Records dropped, oldest first, to stay within the size limit.
    pub dropped_records: u64,
    /// Records found damaged (a torn write after a crash, corruption) and skipped.
    pub damaged_records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the record is larger than the spool allows ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("spool I/O failed")]
    Io(#[source] BoxError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Spool: Send {
    /// Appends a record durably (on disk before this returns) and returns its id.
    ///
    /// # Errors
    /// MUST return `TooLarge` for a record that can never fit, and MUST NOT lose older
    /// records except by the documented size bound (oldest first).
    fn append(&mut self, payload: &[u8]) -> Result<u64, SpoolError>;

    /// The oldest record not yet acknowledged, if any. Does not remove it.
    fn oldest(&mut self) -> Result<Option<SpooledRecord>, SpoolError>;

    /// Acknowledges every record up to and including `id`; they are never returned again,
    /// also after a restart.
    fn ack(&mut self, id: u64) -> Result<(), SpoolError>;

    fn stats(&self) -> SpoolStats;
}
