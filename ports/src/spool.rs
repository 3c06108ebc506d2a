//! The agent's durable queue of batches waiting to be delivered (sync: the agent is threads).

use crate::BoxError;

/// A spooled batch: its spool id (increasing) and its bytes (a compressed batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecord {
    pub id: u64,
    pub payload: Vec<u8>,
}

/// A record appended, and what making room for it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub id: u64,
    /// Older unacknowledged records dropped to make room (by the size bound or for lack of
    /// disk space).
    pub dropped: u64,
    /// The file system's error when records were dropped for lack of disk space.
    pub pressure: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records appended and not yet acknowledged.
    pub records: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Records dropped, oldest first, to stay within the size limit or for lack of disk
    /// space (a record that could not be written at all included).
    pub dropped_records: u64,
    /// Records found damaged (a torn write after a crash, corruption) and skipped.
    pub damaged_records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the record is larger than the spool allows ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("the spool's file system is full and nothing older is left to drop: {0}")]
    NoSpace(#[source] BoxError),
    #[error("spool I/O failed: {0}")]
    Io(#[source] BoxError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Spool: Send {
    /// Appends a record durably (on disk before this returns) and returns its id.
    ///
    /// # Errors
    /// MUST return `TooLarge` for a record that can never fit, and MUST NOT lose older
    /// records except by the documented size bound or for lack of disk space (oldest
    /// first, counted). A failed append MUST leave the spool as it was.
    fn append(&mut self, payload: &[u8]) -> Result<Appended, SpoolError>;

    /// The oldest record not yet acknowledged, if any. Does not remove it.
    fn oldest(&mut self) -> Result<Option<SpooledRecord>, SpoolError>;

    /// Acknowledges every record up to and including `id`; they are never returned again,
    /// also after a restart.
    fn ack(&mut self, id: u64) -> Result<(), SpoolError>;

    fn stats(&self) -> SpoolStats;
}
