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
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::catalog::{self, ColumnKind, FamilySpec, TIME_COLUMN};
use crate::collector::{CollectorId, InstanceName};
use crate::truncate_to_micros;

pub const WIRE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Limits on one batch. The decompressed byte limit is enforced where the body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_bytes: usize,
    pub max_blocks: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_name_len: usize,
    pub max_label_len: usize,
    pub max_text_len: usize,
    pub max_future: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_blocks: 1_000,
            max_rows: 200_000,
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
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Time(Vec<Option<OffsetDateTime>>),
}

impl ColumnValues {
    fn for_kind(kind: ColumnKind, rows: usize) -> Self {
        match kind {
            ColumnKind::Label | ColumnKind::Text => Self::Text(vec![None; rows]),
            ColumnKind::Counter => Self::Int(vec![None; rows]),
            ColumnKind::Gauge => Self::Float(vec![None; rows]),
            ColumnKind::Timestamp => Self::Time(vec![None; rows]),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Self::Text(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Float(v) => v.len(),
            Self::Time(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    pub fn row_count(&self) -> usize {
        self.blocks.iter().map(FamilyRows::len).sum()
    }
    pub fn instances(&self) -> BTreeSet<&InstanceName> {
        self.blocks.iter().map(|b| &b.instance).collect()
    }
}

/// Parses a batch body. Only the JSON shape is checked here.
pub fn parse(body: &[u8]) -> Result<WireBatch, BatchError> {
    // Read the version first so an old or new format gets a clear error, not a shape error.
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<u32>,
    }
    match serde_json::from_slice::<VersionOnly>(body) {
        Ok(VersionOnly { version: Some(v) }) if v != WIRE_VERSION => {
            return Err(BatchError::UnsupportedVersion(v));
        }
        Ok(_) | Err(_) => {}
    }
    serde_json::from_slice(body).map_err(|e| BatchError::Malformed(e.to_string()))
}

/// Who sent a batch and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext {
    pub collector_id: CollectorId,
    pub now: OffsetDateTime,
    pub limits: BatchLimits,
}

pub fn validate(wire: WireBatch, ctx: &ValidationContext) -> Result<ValidatedBatch, BatchError> {
    let limits = &ctx.limits;
    if wire.version != WIRE_VERSION {
        return Err(BatchError::UnsupportedVersion(wire.version));
    }
    if wire.collector_id != ctx.collector_id.as_uuid() {
        return Err(BatchError::CollectorMismatch {
            body: wire.collector_id,
            authenticated: ctx.collector_id,
        });
    }
    if wire.agent_version.len() > limits.max_name_len
        || wire.agent_version.chars().any(char::is_control)
    {
        return Err(BatchError::InvalidName {
            location: "agent_version".into(),
            reason: format!("must be at most {} printable bytes", limits.max_name_len),
        });
    }
    if wire.metrics.len() > limits.max_blocks {
        return Err(BatchError::LimitExceeded {
            what: "number of metric blocks",
            limit: limits.max_blocks,
        });
    }
    let total_rows: usize = wire.metrics.iter().map(|b| b.rows.len()).sum();
    if total_rows > limits.max_rows {
        return Err(BatchError::LimitExceeded {
            what: "number of rows",
            limit: limits.max_rows,
        });
    }
    let collected_at = utc_micros(wire.collected_at);
    check_not_future("collected_at", collected_at, ctx)?;

    let mut skipped = Skipped::default();
    let mut blocks = Vec::with_capacity(wire.metrics.len());
    for (i, block) in wire.metrics.into_iter().enumerate() {
        check_identifier(&format!("metrics[{i}].family"), &block.family, limits)?;
        let Some(family) = catalog::family(&block.family) else {
            skipped.families.insert(block.family);
            continue;
        };
        let instance =
            InstanceName::parse(&block.instance).map_err(|e| BatchError::InvalidName {
                location: format!("metrics[{i}].instance"),
                reason: e.to_string(),
            })?;
        let default_time = block.collected_at.map(utc_micros).unwrap_or(collected_at);
        blocks.push(validate_block(
            family,
            instance,
            default_time,
            block.columns,
            block.rows,
            ctx,
            &mut skipped,
        )?);
    }
    Ok(ValidatedBatch {
        batch_id: wire.batch_id,
        collector_id: ctx.collector_id,
        agent_version: wire.agent_version,
        collected_at,
        blocks,
        skipped,
    })
}

/// Where each wire column goes: the row time, a catalog column, or nowhere (unknown).
#[derive(Clone, Copy)]
enum Target {
    Time,
    Column(usize),
    Skip,
}

fn validate_block(
    family: &'static FamilySpec,
    instance: InstanceName,
    default_time: OffsetDateTime,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    ctx: &ValidationContext,
    skipped: &mut Skipped,
) -> Result<FamilyRows, BatchError> {
    let limits = &ctx.limits;
    if columns.len() > limits.max_columns {
        return Err(BatchError::LimitExceeded {
            what: "number of columns",
            limit: limits.max_columns,
        });
    }
    let mut seen = BTreeSet::new();
    let mut targets = Vec::with_capacity(columns.len());
    for name in &columns {
        check_identifier(&format!("{}.columns", family.name), name, limits)?;
        if !seen.insert(name.as_str()) {
            return Err(BatchError::DuplicateColumn {
                family: family.name.into(),
                column: name.clone(),
            });
        }
        targets.push(if name == TIME_COLUMN {
            Target::Time
        } else if let Some((idx, _)) = family.column(name) {
            Target::Column(idx)
        } else {
            skipped.columns.insert(format!("{}.{}", family.name, name));
            Target::Skip
        });
    }

    let n = rows.len();
    let mut out = FamilyRows {
        family,
        instance,
        time: vec![default_time; n],
        columns: family
            .columns
            .iter()
            .map(|c| ColumnValues::for_kind(c.kind, n))
            .collect(),
    };
    for (r, row) in rows.into_iter().enumerate() {
        if row.len() != columns.len() {
            return Err(BatchError::RowLength {
                family: family.name.into(),
                row: r,
                expected: columns.len(),
                got: row.len(),
            });
        }
        for ((value, target), name) in row.into_iter().zip(&targets).zip(&columns) {
            let cell = Cell {
                family,
                row: r,
                column: name,
                limits,
            };
            match *target {
                Target::Skip => {}
                Target::Time => {
                    out.time[r] = cell
                        .timestamp(value)?
                        .ok_or_else(|| cell.wrong("a timestamp", &Value::Null))?
                }
                Target::Column(idx) => cell.store(value, &mut out.columns[idx])?,
            }
        }
        let location = format!("{} row {r}", family.name);
        check_not_future(&location, out.time[r], ctx)?;
        check_retention(&location, out.time[r], family, ctx)?;
    }
    Ok(out)
}

struct Cell<'a> {
    family: &'static FamilySpec,
    row: usize,
    column: &'a str,
    limits: &'a BatchLimits,
}

impl Cell<'_> {
    fn wrong(&self, expected: &'static str, got: &Value) -> BatchError {
        let got = match got {
            Value::Null => "null".to_owned(),
            Value::Bool(_) => "a boolean".to_owned(),
            Value::Number(n) => format!("the number {n}"),
            Value::String(_) => "a string".to_owned(),
            Value::Array(_) => "an array".to_owned(),
            Value::Object(_) => "an object".to_owned(),
        };
        BatchError::WrongType {
            family: self.family.name.into(),
            row: self.row,
            column: self.column.into(),
            expected,
            got,
        }
    }

    fn store(&self, value: Value, column: &mut ColumnValues) -> Result<(), BatchError> {
        let kind = self
            .family
            .column(self.column)
            .map(|(_, c)| c.kind)
            .unwrap_or(ColumnKind::Text);
        match column {
            ColumnValues::Text(v) => {
                let limit = if kind == ColumnKind::Label {
                    self.limits.max_label_len
                } else {
                    self.limits.max_text_len
                };
                v[self.row] = self.text(value, limit)?;
            }
            ColumnValues::Int(v) => v[self.row] = self.counter(value)?,
            ColumnValues::Float(v) => v[self.row] = self.gauge(value)?,
            ColumnValues::Time(v) => v[self.row] = self.timestamp(value)?,
        }
        Ok(())
    }

    fn text(&self, value: Value, limit: usize) -> Result<Option<String>, BatchError> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.len() > limit => Err(BatchError::ValueTooLong {
                family: self.family.name.into(),
                row: self.row,
                column: self.column.into(),
                limit,
            }),
            // PostgreSQL text cannot hold NUL; refuse it here rather than fail the insert.
            Value::String(s) if s.contains('\0') => {
                Err(self.wrong("a string without NUL characters", &Value::String(s)))
            }
            Value::String(s) => Ok(Some(s)),
            other => Err(self.wrong("a string", &other)),
        }
    }

    fn counter(&self, value: Value) -> Result<Option<i64>, BatchError> {
        const EXPECTED: &str = "a non-negative integer counter";
        match &value {
            Value::Null => Ok(None),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return if i >= 0 {
                        Ok(Some(i))
                    } else {
                        Err(self.wrong(EXPECTED, &value))
                    };
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && (0.0..9.2e18).contains(&f) => Ok(Some(f as i64)),
                    _ => Err(self.wrong(EXPECTED, &value)),
                }
            }
            Value::String(s) if is_non_finite_word(s) => Err(self.non_finite()),
            _ => Err(self.wrong(EXPECTED, &value)),
        }
    }

    fn gauge(&self, value: Value) -> Result<Option<f64>, BatchError> {
        match &value {
            Value::Null => Ok(None),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(self.non_finite()),
            },
            Value::String(s) if is_non_finite_word(s) => Err(self.non_finite()),
            _ => Err(self.wrong("a number", &value)),
        }
    }

    fn timestamp(&self, value: Value) -> Result<Option<OffsetDateTime>, BatchError> {
        const EXPECTED: &str = "an RFC 3339 timestamp";
        match &value {
            Value::Null => Ok(None),
            Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
                .map(|t| Some(utc_micros(t)))
                .map_err(|_| self.wrong(EXPECTED, &value)),
            _ => Err(self.wrong(EXPECTED, &value)),
        }
    }

    fn non_finite(&self) -> BatchError {
        BatchError::NonFinite {
            family: self.family.name.into(),
            row: self.row,
            column: self.column.into(),
        }
    }
}

fn is_non_finite_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "nan" | "inf" | "+inf" | "-inf" | "infinity" | "+infinity" | "-infinity"
    )
}

fn utc_micros(t: OffsetDateTime) -> OffsetDateTime {
    truncate_to_micros(t.to_offset(UtcOffset::UTC))
}

fn check_identifier(location: &str, name: &str, limits: &BatchLimits) -> Result<(), BatchError> {
    let ok = !name.is_empty()
        && name.len() <= limits.max_name_len
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BatchError::InvalidName {
            location: location.to_owned(),
            reason: format!(
                "{:?} must be 1 to {} characters of a-z, 0-9 and '_'",
                truncate_for_message(name),
                limits.max_name_len
            ),
        })
    }
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(80).collect()
}

fn check_not_future(
    location: &str,
    at: OffsetDateTime,
    ctx: &ValidationContext,
) -> Result<(), BatchError> {
    if at > ctx.now + ctx.limits.max_future {
        return Err(BatchError::TimestampInFuture {
            location: location.to_owned(),
            at: at.format(&Rfc3339).unwrap_or_default(),
            max_future_s: ctx.limits.max_future.whole_seconds(),
        });
    }
    Ok(())
}

fn check_retention(
    location: &str,
    at: OffsetDateTime,
    family: &FamilySpec,
    ctx: &ValidationContext,
) -> Result<(), BatchError> {
    if at < ctx.now - Duration::days(i64::from(family.retention_days)) {
        return Err(BatchError::TimestampTooOld {
            location: location.to_owned(),
            at: at.format(&Rfc3339).unwrap_or_default(),
            retention_days: family.retention_days,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
