//! Storage tiers: hourly and daily rollups of every metric family, their retention, and the
//! rule a query uses to pick the tier that answers it.
//!
//! A rollup table (`metrics_hourly.<family>`, `metrics_daily.<family>`) holds one row per
//! series (server and label set) and bucket:
//!
//! - `bucket`, `server_id`, the family's labels;
//! - `samples`: readings in the bucket;
//! - `seconds`: the time the bucket's counter increases cover, the sum over its readings of
//!   the gap to the previous reading of the series (when that is at most [`LOOKBACK`] older);
//! - per gauge `g`: `g_min`, `g_max`, `g_sum`, `g_count` (readings with a value) and `g_last`;
//!   the average is `g_sum / g_count`;
//! - per counter `c`: `c_increase` (the sum of the deltas of its readings, a reset counting
//!   as the value since the reset, as in [`crate::rates`]) and `c_max_rate` (per second);
//!   the rate over a bucket is `c_increase / seconds`;
//! - per text or timestamp column `x`: `x_last`.
//!
//! "Last" is the value at the bucket's latest reading. A reading's counter delta is taken
//! against the previous reading of its series, and counts in the bucket of the later
//! reading; so a daily bucket is exactly the merge of its hours ([`merge`]), and a late
//! reading changes its own hour and the next one.
//!
//! [`roll_up`] and [`merge`] are the reference computation: the in-memory store uses them,
//! and the tests compare PostgreSQL's rollups against them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

use crate::catalog::{ColumnKind, ColumnSpec, FamilySpec};

/// A counter reading's predecessor must be at most this much older for its delta to count:
/// across a longer gap (an agent down, a series gone and back) the increase is unknown.
pub const LOOKBACK: Duration = Duration::hours(1);

/// An hour is rolled up once it ended this long ago; rows arriving later mark their hour for
/// a recomputation instead.
pub const GRACE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Raw,
    Hourly,
    Daily,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Hourly, Tier::Daily];
    pub const ROLLED: [Tier; 2] = [Tier::Hourly, Tier::Daily];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The schema of the tier's tables.
    pub fn schema(self) -> &'static str {
        match self {
            Self::Raw => "metrics",
            Self::Hourly => "metrics_hourly",
            Self::Daily => "metrics_daily",
        }
    }

    /// The length of a bucket; raw rows have none.
    pub fn bucket(self) -> Option<Duration> {
        match self {
            Self::Raw => None,
            Self::Hourly => Some(Duration::HOUR),
            Self::Daily => Some(Duration::DAY),
        }
    }

    /// The start of the bucket holding `t` (UTC hours and days); `t` itself for raw rows.
    pub fn bucket_start(self, t: OffsetDateTime) -> OffsetDateTime {
        let t = t.to_offset(UtcOffset::UTC);
        match self {
            Self::Raw => t,
            Self::Hourly => {
                t.replace_time(Time::from_hms(t.hour(), 0, 0).unwrap_or(Time::MIDNIGHT))
            }
            Self::Daily => t.replace_time(Time::MIDNIGHT),
        }
    }

    /// The first day of the partition holding `t`: partitions span a day of raw rows, a
    /// week (from Monday) of hourly rows and a calendar month of daily rows.
    pub fn partition_of(self, t: OffsetDateTime) -> Date {
        let day = t.to_offset(UtcOffset::UTC).date();
        match self {
            Self::Raw => day,
            Self::Hourly => {
                day - Duration::days(i64::from(day.weekday().number_days_from_monday()))
            }
            Self::Daily => day.replace_day(1).unwrap_or(day),
        }
    }

    /// The first day after the partition starting on `start`.
    pub fn partition_end(self, start: Date) -> Date {
        match self {
            Self::Raw => start + Duration::days(1),
            Self::Hourly => start + Duration::days(7),
            Self::Daily => {
                let (y, m) = match start.month() {
                    time::Month::December => (start.year() + 1, time::Month::January),
                    m => (start.year(), m.next()),
                };
                Date::from_calendar_date(y, m, 1).unwrap_or(start)
            }
        }
    }
}

/// Midnight UTC of `day`.
pub fn day_start(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_offset(UtcOffset::UTC)
}

/// One figure a rollup keeps of a source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Min,
    Max,
    Sum,
    Count,
    Last,
    Increase,
    MaxRate,
}

impl Part {
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Sum => "sum",
            Self::Count => "count",
            Self::Last => "last",
            Self::Increase => "increase",
            Self::MaxRate => "max_rate",
        }
    }

    /// The figures kept of a column of this kind (labels are kept as they are).
    pub fn of(kind: ColumnKind) -> &'static [Part] {
        match kind {
            ColumnKind::Label => &[],
            ColumnKind::Gauge => &[Part::Min, Part::Max, Part::Sum, Part::Count, Part::Last],
            ColumnKind::Counter => &[Part::Increase, Part::MaxRate],
            ColumnKind::Text | ColumnKind::Timestamp => &[Part::Last],
        }
    }
}

/// A value column of a rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupColumn {
    pub source: &'static ColumnSpec,
    pub part: Part,
}

impl RollupColumn {
    pub fn name(&self) -> String {
        format!("{}_{}", self.source.name, self.part.suffix())
    }

    pub fn sql_type(&self) -> &'static str {
        match self.part {
            Part::Min | Part::Max | Part::Sum | Part::MaxRate => "double precision",
            Part::Count => "integer",
            Part::Increase => "bigint",
            Part::Last => self.source.kind.sql_type(),
        }
    }
}

/// The value columns of the family's rollup tables, after `bucket`, `server_id`, the labels,
/// `samples` and `seconds`.
pub fn columns(family: &'static FamilySpec) -> Vec<RollupColumn> {
    family
        .columns
        .iter()
        .flat_map(|c| {
            Part::of(c.kind)
                .iter()
                .map(move |&part| RollupColumn { source: c, part })
        })
        .collect()
}

/// The `CREATE TABLE` of the family's table in a rolled tier (the migration holds these).
pub fn table_ddl(family: &'static FamilySpec, tier: Tier) -> String {
    let schema = tier.schema();
    let mut cols = vec![
        "    bucket    timestamptz NOT NULL".to_owned(),
        "    server_id bigint NOT NULL".to_owned(),
    ];
    cols.extend(family.labels().map(|l| format!("    {} text", l.name)));
    cols.push("    samples integer NOT NULL".to_owned());
    cols.push("    seconds double precision NOT NULL".to_owned());
    cols.extend(
        columns(family)
            .iter()
            .map(|c| format!("    {} {}", c.name(), c.sql_type())),
    );
    format!(
        "CREATE TABLE {schema}.{name} (\n{cols}\n) PARTITION BY RANGE (bucket);\n\
         CREATE INDEX {name}_server_bucket ON {schema}.{name} (server_id, bucket);\n\
         CREATE INDEX {name}_bucket ON {schema}.{name} USING brin (bucket);\n",
        name = family.name,
        cols = cols.join(",\n"),
    )
}

/// A value of a reading or a rollup: numbers (counters, gauges, counts), text, timestamps.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Num(f64),
    Text(String),
    Time(OffsetDateTime),
}

impl Scalar {
    pub fn num(&self) -> Option<f64> {
        match self {
            Self::Num(v) => Some(*v),
            _ => None,
        }
    }
}

/// One raw row: its values in the family's order of non-label columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub server_id: i64,
    pub time: OffsetDateTime,
    pub labels: Vec<Option<String>>,
    pub values: Vec<Option<Scalar>>,
}

/// One rollup row: values aligned with [`columns`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: OffsetDateTime,
    pub server_id: i64,
    pub labels: Vec<Option<String>>,
    pub samples: i64,
    pub seconds: f64,
    pub values: Vec<Option<Scalar>>,
}

type SeriesKey = (i64, Vec<Option<String>>);

/// What one reading adds to its bucket.
struct Step<'a> {
    reading: &'a Reading,
    /// Seconds since the previous reading, when that is a predecessor within [`LOOKBACK`].
    dt: Option<f64>,
    prev: Option<&'a Reading>,
}

/// The hourly buckets of `readings` (any servers, series and order). A reading's counter
/// delta needs its predecessor among `readings`: pass the hour before the first bucket too
/// and drop the buckets you did not ask for.
pub fn roll_up(family: &'static FamilySpec, readings: &[Reading]) -> Vec<Bucket> {
    roll_up_in(family, readings, |t| Some(Tier::Hourly.bucket_start(t)))
}

/// The start of the `step` bucket aligned on `origin` that holds `t`.
pub fn step_start(origin: OffsetDateTime, step: Duration, t: OffsetDateTime) -> OffsetDateTime {
    let step_ns = step.whole_nanoseconds().max(1);
    origin
        + Duration::nanoseconds_i128((t - origin).whole_nanoseconds().div_euclid(step_ns) * step_ns)
}

/// [`roll_up`] into the buckets `bucket_of` assigns (any width; `None`: the reading only
/// serves as a predecessor): what a raw query at a step shorter than an hour answers, with
/// the same figures as the rolled tiers.
pub fn roll_up_in(
    family: &'static FamilySpec,
    readings: &[Reading],
    bucket_of: impl Fn(OffsetDateTime) -> Option<OffsetDateTime>,
) -> Vec<Bucket> {
    let mut series: BTreeMap<SeriesKey, Vec<&Reading>> = BTreeMap::new();
    for r in readings {
        series
            .entry((r.server_id, r.labels.clone()))
            .or_default()
            .push(r);
    }
    let value_columns: Vec<&ColumnSpec> = family
        .columns
        .iter()
        .filter(|c| c.kind != ColumnKind::Label)
        .collect();
    let mut out = Vec::new();
    for ((server_id, labels), mut rows) in series {
        rows.sort_by_key(|r| r.time);
        let mut by_bucket: BTreeMap<OffsetDateTime, Vec<Step<'_>>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            let Some(bucket) = bucket_of(r.time) else {
                continue;
            };
            let prev = i
                .checked_sub(1)
                .map(|j| rows[j])
                .filter(|p| p.time < r.time && r.time - p.time <= LOOKBACK);
            by_bucket.entry(bucket).or_default().push(Step {
                reading: r,
                dt: prev.map(|p| (r.time - p.time).as_seconds_f64()),
                prev,
            });
        }
        for (start, steps) in by_bucket {
            let mut values = Vec::new();
            for (k, col) in value_columns.iter().enumerate() {
                let num = |s: &Step<'_>| s.reading.values[k].as_ref().and_then(Scalar::num);
                let last = || steps.last().and_then(|s| s.reading.values[k].clone());
                match col.kind {
                    ColumnKind::Gauge => {
                        let present: Vec<f64> = steps.iter().filter_map(num).collect();
                        values.push(present.iter().copied().reduce(f64::min).map(Scalar::Num));
                        values.push(present.iter().copied().reduce(f64::max).map(Scalar::Num));
                        values
                            .push((!present.is_empty()).then(|| Scalar::Num(present.iter().sum())));
                        values.push(Some(Scalar::Num(present.len() as f64)));
                        values.push(last());
                    }
                    ColumnKind::Counter => {
                        let deltas: Vec<(f64, f64)> = steps
                            .iter()
                            .filter_map(|s| {
                                let cur = num(s)?;
                                let before = s.prev?.values[k].as_ref()?.num()?;
                                let delta = if cur >= before {
                                    cur - before
                                } else {
                                    cur.max(0.0)
                                };
                                Some((delta, s.dt?))
                            })
                            .collect();
                        values.push(
                            (!deltas.is_empty())
                                .then(|| Scalar::Num(deltas.iter().map(|d| d.0).sum())),
                        );
                        values.push(
                            deltas
                                .iter()
                                .map(|(d, dt)| d / dt)
                                .reduce(f64::max)
                                .map(Scalar::Num),
                        );
                    }
                    ColumnKind::Text | ColumnKind::Timestamp => values.push(last()),
                    ColumnKind::Label => {}
                }
            }
            out.push(Bucket {
                start,
                server_id,
                labels: labels.clone(),
                samples: steps.len() as i64,
                seconds: steps.iter().filter_map(|s| s.dt).sum(),
                values,
            });
        }
    }
    out
}

/// Buckets of a coarser tier (a day) from finer ones (its hours), per series.
pub fn merge(family: &'static FamilySpec, tier: Tier, buckets: &[Bucket]) -> Vec<Bucket> {
    let cols = columns(family);
    let mut groups: BTreeMap<(OffsetDateTime, SeriesKey), Vec<&Bucket>> = BTreeMap::new();
    for b in buckets {
        groups
            .entry((tier.bucket_start(b.start), (b.server_id, b.labels.clone())))
            .or_default()
            .push(b);
    }
    let mut out = Vec::new();
    for ((start, (server_id, labels)), mut parts) in groups {
        parts.sort_by_key(|b| b.start);
        let values = cols
            .iter()
            .enumerate()
            .map(|(k, col)| {
                let nums = parts
                    .iter()
                    .filter_map(|b| b.values[k].as_ref().and_then(Scalar::num));
                match col.part {
                    Part::Min => nums.reduce(f64::min).map(Scalar::Num),
                    Part::Max | Part::MaxRate => nums.reduce(f64::max).map(Scalar::Num),
                    Part::Sum | Part::Increase => nums.reduce(|a, b| a + b).map(Scalar::Num),
                    Part::Count => Some(Scalar::Num(nums.sum())),
                    Part::Last => parts.last().and_then(|b| b.values[k].clone()),
                }
            })
            .collect();
        out.push(Bucket {
            start,
            server_id,
            labels,
            samples: parts.iter().map(|b| b.samples).sum(),
            seconds: parts.iter().map(|b| b.seconds).sum(),
            values,
        });
    }
    out
}

/// One bucket of a rolled series as queries read it: the average of a gauge is
/// `numerator / denominator` (sum / count), the rate of a counter too (increase / seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RolledPoint {
    pub time: OffsetDateTime,
    pub numerator: f64,
    pub denominator: f64,
}

/// Rolled points regrouped into `step` buckets aligned on `origin`: each step's value is
/// the sum of its numerators over the sum of its denominators (steps without a denominator
/// are left out). Points must be in time order.
pub fn resample(
    points: &[RolledPoint],
    origin: OffsetDateTime,
    step: Duration,
) -> Vec<crate::rates::Point> {
    let mut acc: BTreeMap<OffsetDateTime, (f64, f64)> = BTreeMap::new();
    for p in points {
        let e = acc
            .entry(step_start(origin, step, p.time))
            .or_insert((0.0, 0.0));
        e.0 += p.numerator;
        e.1 += p.denominator;
    }
    acc.into_iter()
        .filter(|(_, (_, d))| *d > 0.0)
        .map(|(time, (n, d))| crate::rates::Point { time, value: n / d })
        .collect()
}

/// How long each tier of a family is kept, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retention {
    pub raw_days: u32,
    pub hourly_days: u32,
    pub daily_days: u32,
}

/// The longest retention accepted: a century.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` must be between 1 and {MAX_RETENTION_DAYS} days")]
pub struct RetentionError {
    pub field: &'static str,
}

impl Retention {
    pub fn days(self, tier: Tier) -> u32 {
        match tier {
            Tier::Raw => self.raw_days,
            Tier::Hourly => self.hourly_days,
            Tier::Daily => self.daily_days,
        }
    }

    /// The oldest time the tier keeps at `now`.
    pub fn horizon(self, tier: Tier, now: OffsetDateTime) -> OffsetDateTime {
        now - Duration::days(i64::from(self.days(tier)))
    }

    pub fn validate(self) -> Result<Self, RetentionError> {
        for (field, days) in [
            ("raw_days", self.raw_days),
            ("hourly_days", self.hourly_days),
            ("daily_days", self.daily_days),
        ] {
            if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                return Err(RetentionError { field });
            }
        }
        Ok(self)
    }
}

/// Hourly rollups are kept 90 days and daily ones two years, whatever the family.
pub const HOURLY_DAYS: u32 = 90;
pub const DAILY_DAYS: u32 = 730;

/// The family's retention unless configured otherwise.
pub fn default_retention(family: &FamilySpec) -> Retention {
    Retention {
        raw_days: family.retention_days,
        hourly_days: HOURLY_DAYS,
        daily_days: DAILY_DAYS,
    }
}

/// Where a family's retention comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RetentionSource {
    /// The catalog's default.
    Default,
    /// The server's settings file.
    Settings,
    /// Set through the API (stored in the database; wins over the settings file).
    Api,
}

/// The retention of every family: stored (API) choices over the settings file over the
/// defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionPolicy {
    pub settings: BTreeMap<String, Retention>,
    pub stored: BTreeMap<String, Retention>,
}

impl RetentionPolicy {
    pub fn of(&self, family: &FamilySpec) -> (Retention, RetentionSource) {
        if let Some(r) = self.stored.get(family.name) {
            (*r, RetentionSource::Api)
        } else if let Some(r) = self.settings.get(family.name) {
            (*r, RetentionSource::Settings)
        } else {
            (default_retention(family), RetentionSource::Default)
        }
    }

    pub fn retention(&self, family: &FamilySpec) -> Retention {
        self.of(family).0
    }
}

/// Which tier answers a series query, at which step, and why the step was raised if it was.
#[derive(Debug, Clone, PartialEq)]
pub struct TierChoice {
    pub tier: Tier,
    pub from: OffsetDateTime,
    pub step: Duration,
    /// Set when the step asked for was raised: the reason, for the answer.
    pub downsampled: Option<String>,
}

/// Picks the tier of a query over `[from, to)` at `step`:
///
/// - the step is first raised when the range would hold more than `max_points` steps;
/// - then the coarsest tier whose bucket is no longer than the step answers (raw below an
///   hour, hourly below a day, daily from a day up): the fewest rows to read;
/// - a coarser tier answers when the chosen one no longer keeps `from` (raw rows past their
///   retention);
/// - a rolled tier's step is a whole number of its buckets, and `from` moves back to the
///   start of its bucket so steps line up with buckets.
pub fn choose_tier(
    from: OffsetDateTime,
    to: OffsetDateTime,
    asked: Duration,
    now: OffsetDateTime,
    retention: Retention,
    max_points: i64,
) -> TierChoice {
    let mut reasons = Vec::new();
    let span = (to - from).whole_seconds().max(1);
    let max_points = max_points.max(1);
    let mut step = asked.max(Duration::SECOND);
    let steps = span / step.whole_seconds().max(1);
    if steps > max_points {
        reasons.push(format!(
            "{steps} steps of {} s would exceed {max_points} points per series",
            step.whole_seconds()
        ));
        step = Duration::seconds((span + max_points - 1) / max_points);
    }
    let mut tier = if step < Duration::HOUR {
        Tier::Raw
    } else if step < Duration::DAY {
        Tier::Hourly
    } else {
        Tier::Daily
    };
    while tier != Tier::Daily && from < retention.horizon(tier, now) {
        let next = if tier == Tier::Raw {
            Tier::Hourly
        } else {
            Tier::Daily
        };
        reasons.push(format!(
            "{} data is kept {} days and the range starts earlier, so {} rollups answer",
            tier.as_str(),
            retention.days(tier),
            next.as_str()
        ));
        tier = next;
    }
    if let Some(bucket) = tier.bucket() {
        let unit = bucket.whole_seconds();
        step = Duration::seconds((step.whole_seconds().max(1) + unit - 1) / unit * unit);
    }
    let from = match tier {
        Tier::Raw => from,
        t => t.bucket_start(from),
    };
    TierChoice {
        tier,
        from,
        step,
        downsampled: (step != asked).then(|| {
            if reasons.is_empty() {
                format!("{} rollups answer in whole buckets", tier.as_str())
            } else {
                reasons.join("; ")
            }
        }),
    }
}

#[cfg(test)]
mod tests;
