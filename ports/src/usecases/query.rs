use pganalytics_domain::catalog::{self, ColumnKind, ColumnSpec};
use pganalytics_domain::rates::{self, Point};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::StoreError;
use crate::env::Clock;
use crate::store::{MetricStore, SeriesQuery};

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
}

/// The series of a request, with the range and step they were read for.
#[derive(Debug, Clone)]
pub struct SeriesReply {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub step: Duration,
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
    #[error("{0}")]
    InvalidRange(String),
    #[error("{0}; narrow the time range, the columns or use a larger step")]
    TooLarge(String),
    #[error(transparent)]
    Store(StoreError),
}

/// Reads time series: counters become per-second rates (resets handled), everything is
/// averaged into `step` buckets.
///
/// Bounded by construction: at most `max_rows` rows and `max_cells` values (rows × distinct
/// columns) are read from the store, and an answer holds at most `max_answer_points`
/// points (series × steps); past either the query is refused, never truncated.
pub struct QueryMetrics {
    pub metrics: Arc<dyn MetricStore>,
    pub clock: Arc<dyn Clock>,
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
        let to = req.to.unwrap_or_else(|| self.clock.now());
        let range = Range {
            from: req.from.unwrap_or(to - Duration::hours(1)),
            to,
            step: req.step.unwrap_or(Duration::seconds(60)),
        };
        let steps = self.check_range(&range)?;
        // Every distinct column multiplies what one row costs.
        let max_rows = self.max_rows.min(self.max_cells / columns.len().max(1));
        // Fetch one step before `from` so the first bucket's counter rate has a predecessor.
        let query = SeriesQuery {
            server_id: req.server_id,
            family,
            columns,
            from: range.from - range.step,
            to: range.to,
            max_rows,
        };
        let raw = self
            .metrics
            .query_series(&query)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => QueryError::TooLarge(format!(
                    "the query reads more than {max_rows} rows ({} values over {} columns)",
                    self.max_cells,
                    query.columns.len()
                )),
                other => QueryError::Store(other),
            })?;
        let points = raw.len().saturating_mul(steps);
        if points > self.max_answer_points {
            return Err(QueryError::TooLarge(format!(
                "the answer would hold {} series × {steps} steps, more than {} points",
                raw.len(),
                self.max_answer_points
            )));
        }
        Ok(SeriesReply {
            series: raw
                .into_iter()
                .map(|s| to_series(s, family, &range))
                .collect(),
            from: range.from,
            to: range.to,
            step: range.step,
        })
    }

    /// The number of steps in the range, when the range is acceptable.
    fn check_range(&self, req: &Range) -> Result<usize, QueryError> {
        if req.to <= req.from {
            return Err(QueryError::InvalidRange("`to` must be after `from`".into()));
        }
        if req.step < Duration::seconds(1) {
            return Err(QueryError::InvalidRange(
                "`step` must be at least 1 second".into(),
            ));
        }
        let points = (req.to - req.from).whole_seconds() / req.step.whole_seconds().max(1);
        if points > self.max_points_per_series {
            return Err(QueryError::InvalidRange(format!(
                "the range holds {points} steps; at most {} are allowed, use a larger step",
                self.max_points_per_series
            )));
        }
        Ok(usize::try_from(points).unwrap_or(usize::MAX))
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

fn to_series(raw: crate::store::RawSeries, family: &catalog::FamilySpec, req: &Range) -> Series {
    let kind = family
        .column(raw.column)
        .map_or(ColumnKind::Gauge, |(_, c)| c.kind);
    let values: Vec<Point> = if kind == ColumnKind::Counter {
        rates::counter_rates(&raw.points)
    } else {
        raw.points
    };
    let in_range: Vec<Point> = values
        .into_iter()
        .filter(|p| p.time >= req.from && p.time < req.to)
        .collect();
    let points = rates::downsample(&in_range, req.from, req.step)
        .into_iter()
        .map(|p| {
            (
                p.time
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                p.value,
            )
        })
        .collect();
    Series {
        column: raw.column,
        kind,
        unit: if kind == ColumnKind::Counter {
            "per_second"
        } else {
            "value"
        },
        labels: raw.labels,
        points,
    }
}

crate::usecases::auth::opaque_debug!(QueryMetrics);
