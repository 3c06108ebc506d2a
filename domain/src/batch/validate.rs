//! Validation: every rule of the format, turning a batch into typed columns.

use std::borrow::Cow;
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::cell::{Budget, Cell, RawBatch, Rows, parse_bounded};
use super::{
    BatchError, BatchLimits, ColumnValues, FamilyRows, Skipped, ValidatedBatch, WIRE_VERSION,
    WireBatch, shape_error,
};
use crate::catalog::{self, ColumnKind, FamilySpec, TIME_COLUMN};
use crate::collector::{CollectorId, InstanceName};
use crate::truncate_to_micros;

/// Who sent a batch and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext {
    pub collector_id: CollectorId,
    pub now: OffsetDateTime,
    pub limits: BatchLimits,
}

/// Validates an owned batch (as agents and tests build them).
pub fn validate(wire: WireBatch, ctx: &ValidationContext) -> Result<ValidatedBatch, BatchError> {
    validate_raw(RawBatch::borrow(&wire), ctx)
}

/// Parses and validates a request body in one pass, without an intermediate `Value` tree:
/// what the server does with every push.
pub fn parse_and_validate(
    body: &[u8],
    ctx: &ValidationContext,
) -> Result<ValidatedBatch, BatchError> {
    let mut budget = Budget::new(ctx.limits);
    match parse_bounded(body, &mut budget) {
        Ok(raw) => validate_raw(raw, ctx),
        Err(e) => Err(budget.exceeded.unwrap_or_else(|| shape_error(body, e))),
    }
}

fn validate_raw(wire: RawBatch<'_>, ctx: &ValidationContext) -> Result<ValidatedBatch, BatchError> {
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
    let total_cells: usize = wire.metrics.iter().map(|b| b.rows.cells.len()).sum();
    if total_cells > limits.max_cells {
        return Err(BatchError::LimitExceeded {
            what: "number of values",
            limit: limits.max_cells,
        });
    }
    let collected_at = utc_micros(wire.collected_at);
    check_not_future(|| "collected_at".to_owned(), collected_at, ctx)?;

    let mut skipped = Skipped::default();
    let mut blocks = Vec::with_capacity(wire.metrics.len());
    for (i, block) in wire.metrics.into_iter().enumerate() {
        check_identifier(&format!("metrics[{i}].family"), &block.family, limits)?;
        let Some(family) = catalog::family(&block.family) else {
            skipped.families.insert(block.family.into_owned());
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
        agent_version: wire.agent_version.into_owned(),
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
    columns: Vec<Cow<'_, str>>,
    rows: Rows<'_>,
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
        if !seen.insert(name.as_ref()) {
            return Err(BatchError::DuplicateColumn {
                family: family.name.into(),
                column: name.to_string(),
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
    let mut cells = rows.cells.into_iter();
    for (r, &len) in rows.lens.iter().enumerate() {
        if len != columns.len() {
            return Err(BatchError::RowLength {
                family: family.name.into(),
                row: r,
                expected: columns.len(),
                got: len,
            });
        }
        for ((value, target), name) in cells.by_ref().take(len).zip(&targets).zip(&columns) {
            let at = At {
                family,
                row: r,
                column: name,
                limits,
            };
            match *target {
                Target::Skip => {}
                Target::Time => {
                    out.time[r] = at
                        .timestamp(value)?
                        .ok_or_else(|| at.wrong("a timestamp", &Cell::Null))?
                }
                Target::Column(idx) => {
                    at.store(value, family.columns[idx].kind, &mut out.columns[idx])?
                }
            }
        }
        let location = || format!("{} row {r}", family.name);
        check_not_future(location, out.time[r], ctx)?;
        check_retention(location, out.time[r], family, ctx)?;
    }
    Ok(out)
}

/// Where a value sits, for error messages and limits.
struct At<'a> {
    family: &'static FamilySpec,
    row: usize,
    column: &'a str,
    limits: &'a BatchLimits,
}

impl At<'_> {
    fn wrong(&self, expected: &'static str, got: &Cell<'_>) -> BatchError {
        BatchError::WrongType {
            family: self.family.name.into(),
            row: self.row,
            column: self.column.into(),
            expected,
            got: got.describe(),
        }
    }

    fn store(
        &self,
        value: Cell<'_>,
        kind: ColumnKind,
        column: &mut ColumnValues,
    ) -> Result<(), BatchError> {
        match column {
            ColumnValues::Text(v) => {
                let limit = if kind == ColumnKind::Label {
                    self.limits.max_label_len
                } else {
                    self.limits.max_text_len
                };
                v.set(self.row, self.text(&value, limit, kind)?);
            }
            ColumnValues::Int(v) => v[self.row] = self.counter(value)?,
            ColumnValues::Float(v) => v[self.row] = self.gauge(value)?,
            ColumnValues::Time(v) => v[self.row] = self.timestamp(value)?,
        }
        Ok(())
    }

    fn text<'v>(
        &self,
        value: &'v Cell<'_>,
        limit: usize,
        kind: ColumnKind,
    ) -> Result<Option<&'v str>, BatchError> {
        match value {
            Cell::Null => Ok(None),
            Cell::Str(s) if s.len() > limit => Err(BatchError::ValueTooLong {
                family: self.family.name.into(),
                row: self.row,
                column: self.column.into(),
                limit,
            }),
            // PostgreSQL text cannot hold NUL; refuse it here rather than fail the insert.
            Cell::Str(s) if s.contains('\0') => {
                Err(self.wrong("a string without NUL characters", value))
            }
            // A label names a series in every query and dashboard: no escape sequences, line
            // breaks or other control characters (issue 11). Free text (a log message) may
            // hold line breaks.
            Cell::Str(s) if kind == ColumnKind::Label && s.chars().any(char::is_control) => {
                Err(self.wrong("a label without control characters", value))
            }
            Cell::Str(s) => Ok(Some(s)),
            other => Err(self.wrong("a string", other)),
        }
    }

    fn counter(&self, value: Cell<'_>) -> Result<Option<i64>, BatchError> {
        const EXPECTED: &str = "a non-negative integer counter";
        match value {
            Cell::Null => Ok(None),
            Cell::Int(i) if i >= 0 => Ok(Some(i)),
            Cell::Float(f) if f.fract() == 0.0 && (0.0..9.2e18).contains(&f) => Ok(Some(f as i64)),
            Cell::Str(ref s) if is_non_finite_word(s) => Err(self.non_finite()),
            other => Err(self.wrong(EXPECTED, &other)),
        }
    }

    fn gauge(&self, value: Cell<'_>) -> Result<Option<f64>, BatchError> {
        match value {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(i as f64)),
            Cell::UInt(u) => Ok(Some(u as f64)),
            Cell::Float(f) if f.is_finite() => Ok(Some(f)),
            Cell::Float(_) => Err(self.non_finite()),
            Cell::Str(ref s) if is_non_finite_word(s) => Err(self.non_finite()),
            other => Err(self.wrong("a number", &other)),
        }
    }

    fn timestamp(&self, value: Cell<'_>) -> Result<Option<OffsetDateTime>, BatchError> {
        match value {
            Cell::Null => Ok(None),
            Cell::Str(ref s) => match OffsetDateTime::parse(s, &Rfc3339) {
                Ok(t) => Ok(Some(utc_micros(t))),
                Err(_) => Err(self.wrong("an RFC 3339 timestamp", &value)),
            },
            other => Err(self.wrong("an RFC 3339 timestamp", &other)),
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

/// `location` is only built on failure: this runs for every row.
fn check_not_future(
    location: impl FnOnce() -> String,
    at: OffsetDateTime,
    ctx: &ValidationContext,
) -> Result<(), BatchError> {
    if at > ctx.now + ctx.limits.max_future {
        return Err(BatchError::TimestampInFuture {
            location: location(),
            at: at.format(&Rfc3339).unwrap_or_default(),
            max_future_s: ctx.limits.max_future.whole_seconds(),
        });
    }
    Ok(())
}

fn check_retention(
    location: impl FnOnce() -> String,
    at: OffsetDateTime,
    family: &FamilySpec,
    ctx: &ValidationContext,
) -> Result<(), BatchError> {
    if at < ctx.now - Duration::days(i64::from(family.retention_days)) {
        return Err(BatchError::TimestampTooOld {
            location: location(),
            at: at.format(&Rfc3339).unwrap_or_default(),
            retention_days: family.retention_days,
        });
    }
    Ok(())
}
