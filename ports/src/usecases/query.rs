use pganalytics_domain::catalog::{self, ColumnKind, ColumnSpec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::StoreError;
use crate::env::Clock;
use crate::store::{RolledSeries, SeriesQuery, TierStore};
use pganalytics_domain::rollup::{
    LOOKBACK, Retention, RetentionPolicy, Tier, choose_tier, resample,
};

/// A request as a person or script makes it.
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    pub server_id: i64,
    pub family: String,
    /// Empty means every counter and gauge of the family.
    pub columns: Vec<String>,
    /// Default: an hour before `to`.
    pub from: Option<OffsetDateTime>,
    /// Default: now.
    pub to: Option<OffsetDateTime>,
    /// Default: a minute.
    pub step: Option<Duration>,
    /// Only the series whose label equals the value (label names of the family).
    pub filters: Vec<(String, String)>,
}

/// The series of a request, with the range, step and tier they were read from.
#[derive(Debug, Clone)]
pub struct SeriesReply {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub step: Duration,
    /// The tier that answered (rows after its rollups' watermark come from raw rows).
    pub tier: Tier,
    /// Why the step differs from the one asked for, when it does.
    pub downsampled: Option<String>,
    pub series: Vec<Series>,
}

/// A request with its defaults filled in.
#[derive(Debug, Clone)]
struct Range {
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub column: &'static str,
    pub kind: ColumnKind,
    /// `per_second` for counters (rates with resets handled), `value` for gauges.
    pub unit: &'static str,
    pub labels: BTreeMap<String, Option<String>>,
    /// `[RFC 3339 time, value]` pairs, one per step.
    pub points: Vec<(String, f64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("unknown metric family {0:?}")]
    UnknownFamily(String),
    #[error("family {family} has no numeric column {column:?}")]
    UnknownColumn { family: String, column: String },
    #[error("family {family} has no label {label:?}")]
    UnknownLabel { family: String, label: String },
    #[error("{0}")]
    InvalidRange(String),
    #[error("{0}; narrow the time range, the columns or use a larger step")]
    TooLarge(String),
    #[error(transparent)]
    Store(StoreError),
}

/// Reads time series from the tier that fits the range and step ([`choose_tier`]), folded
/// into `step` buckets the way the rollups fold hours: a gauge is the average of its
/// readings, a counter its increase (resets handled) over the seconds it covers, a
/// per-second rate. Raw rows are folded by the store ([`TierStore::query_steps`]), so an
/// answer costs its steps, not its readings. The part of the range past the chosen tier's
/// watermark comes from the finer tiers, the hour now running from raw rows.
///
/// Bounded by construction: at most `max_rows` rows and `max_cells` values (rows × distinct
/// columns) are read from the store, and an answer holds at most `max_answer_points`
/// points (series × steps); past either the query is refused, never truncated. A range
/// holding more than `max_points_per_series` steps is downsampled (the answer says so).
pub struct QueryMetrics {
    pub tiers: Arc<dyn TierStore>,
    pub clock: Arc<dyn Clock>,
    pub retention_settings: BTreeMap<String, Retention>,
    pub max_rows: usize,
    pub max_cells: usize,
    pub max_points_per_series: i64,
    pub max_answer_points: usize,
}

impl QueryMetrics {
    pub async fn execute(&self, req: SeriesRequest) -> Result<SeriesReply, QueryError> {
        let family = catalog::family(&req.family)
            .ok_or_else(|| QueryError::UnknownFamily(req.family.clone()))?;
        let columns = select_columns(family, &req.columns)?;
        let filters = req
            .filters
            .iter()
            .map(|(label, value)| {
                family
                    .labels()
                    .find(|l| l.name == label)
                    .map(|l| (l.name, value.clone()))
                    .ok_or_else(|| QueryError::UnknownLabel {
                        family: family.name.to_owned(),
                        label: label.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.clock.now();
        let to = req.to.unwrap_or(now);
        let from = req.from.unwrap_or(to - Duration::hours(1));
        let step = req.step.unwrap_or(Duration::seconds(60));
        check_range(from, to, step)?;
        let retention = RetentionPolicy {
            settings: self.retention_settings.clone(),
            stored: self
                .tiers
                .stored_retention()
                .await
                .map_err(QueryError::Store)?,
        }
        .retention(family);
        let choice = choose_tier(from, to, step, now, retention, self.max_points_per_series);
        let range = Range {
            from: choice.from,
            to,
            step: choice.step,
        };
        let steps =
            usize::try_from((to - range.from).whole_seconds() / range.step.whole_seconds().max(1))
                .unwrap_or(usize::MAX)
                .max(1);
        // Every distinct column multiplies what one row costs.
        let max_rows = self.max_rows.min(self.max_cells / columns.len().max(1));
        let too_large = |e: StoreError, columns: usize| match e {
            StoreError::Conflict { .. } => QueryError::TooLarge(format!(
                "the query reads more than {max_rows} rows ({} values over {columns} columns)",
                self.max_cells
            )),
            other => QueryError::Store(other),
        };
        // Each tier answers from where the coarser one's rollups end: the chosen tier up to
        // its watermark, the finer rolled tiers up to theirs, raw rows the rest (the hour
        // now running). All give (numerator, denominator) pairs with the same meaning, so a
        // step that spans two tiers adds them up.
        let mut parts: Vec<RolledSeries> = Vec::new();
        let mut cursor = range.from;
        let rolled: &[Tier] = match choice.tier {
            Tier::Daily => &[Tier::Daily, Tier::Hourly],
            Tier::Hourly => &[Tier::Hourly],
            Tier::Raw => &[],
        };
        let watermarks = if rolled.is_empty() {
            Vec::new()
        } else {
            self.tiers
                .rollup_watermarks()
                .await
                .map_err(QueryError::Store)?
        };
        for &tier in rolled {
            let done = watermarks
                .iter()
                .find(|w| w.family == family.name && w.tier == tier)
                .map_or(cursor, |w| w.done_until)
                .min(to);
            if done <= cursor {
                continue;
            }
            let query = SeriesQuery {
                server_id: req.server_id,
                family,
                columns: columns.clone(),
                from: cursor,
                to: done,
                filters: filters.clone(),
                max_rows,
            };
            parts.extend(
                self.tiers
                    .query_rolled(&query, tier)
                    .await
                    .map_err(|e| too_large(e, query.columns.len()))?,
            );
            cursor = done;
        }
        if cursor < to && cursor >= retention.horizon(Tier::Raw, now) - LOOKBACK {
            let query = SeriesQuery {
                server_id: req.server_id,
                family,
                columns: columns.clone(),
                from: cursor,
                to,
                filters: filters.clone(),
                max_rows,
            };
            parts.extend(
                self.tiers
                    .query_steps(&query, range.from, range.step)
                    .await
                    .map_err(|e| too_large(e, query.columns.len()))?,
            );
        }
        let mut merged: Vec<RolledSeries> = Vec::new();
        for part in parts {
            match merged
                .iter_mut()
                .find(|x| x.column == part.column && x.labels == part.labels)
            {
                Some(existing) => existing.points.extend(part.points),
                None => merged.push(part),
            }
        }
        let mut series: Vec<Series> = merged
            .into_iter()
            .map(|r| rolled_series(r, family, &range))
            .collect();
        series.retain(|s| !s.points.is_empty());
        let points = series.len().saturating_mul(steps);
        if points > self.max_answer_points {
            return Err(QueryError::TooLarge(format!(
                "the answer would hold {} series × {steps} steps, more than {} points",
                series.len(),
                self.max_answer_points
            )));
        }
        Ok(SeriesReply {
            series,
            from: range.from,
            to: range.to,
            step: range.step,
            tier: choice.tier,
            downsampled: choice.downsampled,
        })
    }
}

/// Whether the request's range and step make sense.
fn check_range(from: OffsetDateTime, to: OffsetDateTime, step: Duration) -> Result<(), QueryError> {
    if to <= from {
        return Err(QueryError::InvalidRange("`to` must be after `from`".into()));
    }
    if step < Duration::seconds(1) {
        return Err(QueryError::InvalidRange(
            "`step` must be at least 1 second".into(),
        ));
    }
    Ok(())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn unit_of(kind: ColumnKind) -> &'static str {
    if kind == ColumnKind::Counter {
        "per_second"
    } else {
        "value"
    }
}

fn rolled_series(r: RolledSeries, family: &catalog::FamilySpec, req: &Range) -> Series {
    let kind = family
        .column(r.column)
        .map_or(ColumnKind::Gauge, |(_, c)| c.kind);
    Series {
        column: r.column,
        kind,
        unit: unit_of(kind),
        labels: r.labels,
        points: resample(&r.points, req.from, req.step)
            .into_iter()
            .map(|p| (rfc3339(p.time), p.value))
            .collect(),
    }
}

/// The requested columns in the order first named, each once.
fn select_columns(
    family: &'static catalog::FamilySpec,
    names: &[String],
) -> Result<Vec<&'static ColumnSpec>, QueryError> {
    let numeric = |c: &ColumnSpec| matches!(c.kind, ColumnKind::Counter | ColumnKind::Gauge);
    if names.is_empty() {
        return Ok(family.columns.iter().filter(|c| numeric(c)).collect());
    }
    let mut selected: Vec<&'static ColumnSpec> = Vec::new();
    for n in names {
        let column = family
            .columns
            .iter()
            .find(|c| c.name == n && numeric(c))
            .ok_or_else(|| QueryError::UnknownColumn {
                family: family.name.into(),
                column: n.clone(),
            })?;
        if !selected.iter().any(|c| c.name == column.name) {
            selected.push(column);
        }
    }
    Ok(selected)
}

crate::usecases::auth::opaque_debug!(QueryMetrics);
