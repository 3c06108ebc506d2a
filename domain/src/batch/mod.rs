//! Metric batches: wire format v1 and its validation.
//!
//! A batch is JSON (see `docs/api/metric-batch.md`). Each block carries one family's rows for
//! one monitored instance in columnar form: column names once, then rows of values. Parsing
//! ([`parse`]) only checks the JSON shape; [`validate`] checks every rule and turns the
//! batch into typed columns ([`ValidatedBatch`]) ready for a columnar insert. Unknown
//! families and columns (from a newer agent) are skipped and reported, never fatal.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::catalog::{ColumnKind, FamilySpec};
use crate::collector::{CollectorId, InstanceName};

mod cell;
mod encoded;
mod validate;

pub use encoded::{EncodedBatch, EncodedBlock};
pub use validate::{ValidationContext, parse_and_validate, validate};

pub const WIRE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireBatch {
    pub version: u32,
    pub batch_id: Uuid,
    pub collector_id: Uuid,
    pub agent_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    pub metrics: Vec<WireBlock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireBlock {
    pub family: String,
    pub instance: String,
    /// Time of every row without a `time` column; defaults to the batch's `collected_at`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub collected_at: Option<OffsetDateTime>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Limits on one batch. Byte limits (compressed and decompressed) are enforced where the
/// body is read, before parsing; the counts while parsing ([`parse_and_validate`]), so no
/// body costs more than its bytes plus `max_cells` parsed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_blocks: usize,
    pub max_rows: usize,
    /// Values in all rows together: what bounds the memory a batch costs to parse.
    pub max_cells: usize,
    pub max_columns: usize,
    pub max_name_len: usize,
    pub max_label_len: usize,
    pub max_text_len: usize,
    pub max_future: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_blocks: 1_000,
            max_rows: 200_000,
            max_cells: 2_000_000,
            max_columns: 256,
            max_name_len: 63,
            max_label_len: 1_024,
            max_text_len: 64 * 1024,
            max_future: Duration::minutes(5),
        }
    }
}

/// Why a batch was rejected. Each variant names where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("the body is not a valid metric batch: {0}")]
    Malformed(String),
    #[error("batch format version {0} is not supported (this server reads version {WIRE_VERSION})")]
    UnsupportedVersion(u32),
    #[error(
        "collector_id {body} in the batch does not match the authenticated collector {authenticated}"
    )]
    CollectorMismatch {
        body: Uuid,
        authenticated: CollectorId,
    },
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded { what: &'static str, limit: usize },
    #[error("{location}: {reason}")]
    InvalidName { location: String, reason: String },
    #[error("{family}: column {column:?} appears twice")]
    DuplicateColumn { family: String, column: String },
    #[error("{family} row {row}: has {got} values for {expected} columns")]
    RowLength {
        family: String,
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("{family} row {row} column {column:?}: expected {expected}, got {got}")]
    WrongType {
        family: String,
        row: usize,
        column: String,
        expected: &'static str,
        got: String,
    },
    #[error("{family} row {row} column {column:?}: value is not a finite number")]
    NonFinite {
        family: String,
        row: usize,
        column: String,
    },
    #[error("{family} row {row} column {column:?}: value is longer than {limit} bytes")]
    ValueTooLong {
        family: String,
        row: usize,
        column: String,
        limit: usize,
    },
    #[error("{location}: timestamp {at} is more than {max_future_s} s in the future")]
    TimestampInFuture {
        location: String,
        at: String,
        max_future_s: i64,
    },
    #[error(
        "{location}: timestamp {at} is older than the family's retention of {retention_days} days"
    )]
    TimestampTooOld {
        location: String,
        at: String,
        retention_days: u32,
    },
}

impl BatchError {
    /// A stable machine-readable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_batch",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::CollectorMismatch { .. } => "collector_mismatch",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::InvalidName { .. } => "invalid_name",
            Self::DuplicateColumn { .. } => "duplicate_column",
            Self::RowLength { .. } => "row_length",
            Self::WrongType { .. } => "wrong_type",
            Self::NonFinite { .. } => "non_finite",
            Self::ValueTooLong { .. } => "value_too_long",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
        }
    }
}

/// One family's values, column by column, in the order of [`FamilySpec::columns`].
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    Text(TextValues),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Time(Vec<Option<OffsetDateTime>>),
}

impl ColumnValues {
    fn for_kind(kind: ColumnKind, rows: usize) -> Self {
        match kind {
            ColumnKind::Label | ColumnKind::Text => Self::Text(TextValues::nulls(rows)),
            ColumnKind::Counter => Self::Int(vec![None; rows]),
            ColumnKind::Gauge => Self::Float(vec![None; rows]),
            ColumnKind::Timestamp => Self::Time(vec![None; rows]),
        }
    }
}

/// A text column's values, in one buffer: a 1,000-row batch holds thousands of short labels,
/// and one allocation each (then one free each, on another thread) was a tenth of the
/// server's CPU per push.
#[derive(Debug, Clone, Default)]
pub struct TextValues {
    buf: String,
    spans: Vec<Option<std::ops::Range<usize>>>,
}

impl TextValues {
    /// `rows` NULLs.
    pub fn nulls(rows: usize) -> Self {
        Self {
            buf: String::new(),
            spans: vec![None; rows],
        }
    }

    pub fn with_capacity(rows: usize) -> Self {
        Self {
            buf: String::new(),
            spans: Vec::with_capacity(rows),
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Row `r`'s value (None: NULL). Panics past the end, as a slice does.
    pub fn get(&self, r: usize) -> Option<&str> {
        self.spans[r].clone().map(|span| &self.buf[span])
    }

    /// Sets row `r`; panics past the end, as a slice does.
    pub fn set(&mut self, r: usize, value: Option<&str>) {
        self.spans[r] = value.map(|v| self.append(v));
    }

    pub fn push(&mut self, value: Option<&str>) {
        let span = value.map(|v| self.append(v));
        self.spans.push(span);
    }

    fn append(&mut self, v: &str) -> std::ops::Range<usize> {
        let start = self.buf.len();
        self.buf.push_str(v);
        start..self.buf.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.len()).map(|r| self.get(r))
    }
}

/// Equal when the values are, however they were set.
impl PartialEq for TextValues {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// A validated block: every row has a time, and `columns[i]` holds the values of
/// `family.columns[i]` (null where the agent did not send the column).
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRows {
    pub family: &'static FamilySpec,
    pub instance: InstanceName,
    pub time: Vec<OffsetDateTime>,
    pub columns: Vec<ColumnValues>,
}

impl FamilyRows {
    pub fn len(&self) -> usize {
        self.time.len()
    }
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// What a batch contained that this server does not know, reported back to the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    pub families: BTreeSet<String>,
    /// `family.column`
    pub columns: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedBatch {
    pub batch_id: Uuid,
    pub collector_id: CollectorId,
    pub agent_version: String,
    pub collected_at: OffsetDateTime,
    pub blocks: Vec<FamilyRows>,
    pub skipped: Skipped,
}

impl ValidatedBatch {
    pub fn instances(&self) -> BTreeSet<&InstanceName> {
        self.blocks.iter().map(|b| &b.instance).collect()
    }
}

/// Parses a batch body into its owned form. Only the JSON shape is checked here.
pub fn parse(body: &[u8]) -> Result<WireBatch, BatchError> {
    serde_json::from_slice(body).map_err(|e| shape_error(body, e))
}

/// The error for a body that does not have the batch shape: an unsupported version when it
/// names one (an older or newer agent), else what JSON said.
fn shape_error(body: &[u8], e: serde_json::Error) -> BatchError {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<u32>,
    }
    match serde_json::from_slice::<VersionOnly>(body) {
        Ok(VersionOnly { version: Some(v) }) if v != WIRE_VERSION => {
            BatchError::UnsupportedVersion(v)
        }
        _ => BatchError::Malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
