//! Storage tiers: rollups, retention, and the searches over statements and log events.

use async_trait::async_trait;
use pganalytics_domain::audit::AuditEntry;
use pganalytics_domain::catalog::FamilySpec;
use pganalytics_domain::rollup::{Bucket, Retention, RolledPoint, Tier};
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use super::SeriesQuery;
use crate::StoreError;

/// What one rollup pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RollupReport {
    /// Hours rolled up from raw rows for the first time (per family).
    pub hours_rolled: u64,
    /// Days rolled up from their hours for the first time (per family).
    pub days_rolled: u64,
    /// Hours and days recomputed because rows arrived after they were rolled up.
    pub buckets_recomputed: u64,
    /// Raw rows read into hourly buckets.
    pub rows_rolled_up: u64,
    /// Rollup rows written, both tiers.
    pub buckets_written: u64,
    /// How far the oldest hourly watermark is behind now, in seconds.
    pub lag_seconds: i64,
}

/// How far a family's tier is rolled up: every bucket before `done_until` is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub family: &'static str,
    pub tier: Tier,
    pub done_until: OffsetDateTime,
}

/// Rollup rows of one family and tier with `from <= bucket < to`.
#[derive(Debug, Clone)]
pub struct BucketQuery {
    pub family: &'static FamilySpec,
    pub tier: Tier,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// At most this many rows are read; more is an error, not a silent cut.
    pub max_rows: usize,
}

/// One column of one label set of a rolled tier: per bucket, the numerator and denominator
/// of its average (gauges: sum and count; counters: increase and seconds covered).
#[derive(Debug, Clone, PartialEq)]
pub struct RolledSeries {
    pub column: &'static str,
    pub labels: BTreeMap<String, Option<String>>,
    pub points: Vec<RolledPoint>,
}

impl RolledSeries {
    /// Appends `point` to `out` (buckets come ordered by labels, then time): to the last
    /// series when it is this column's (one started at or after `start`) with the same
    /// labels, else as a new series.
    pub fn push(
        out: &mut Vec<Self>,
        start: usize,
        column: &'static str,
        labels: BTreeMap<String, Option<String>>,
        point: RolledPoint,
    ) {
        let continues = out.len() > start;
        match out.last_mut() {
            Some(last) if continues && last.labels == labels => last.points.push(point),
            _ => out.push(Self {
                column,
                labels,
                points: vec![point],
            }),
        }
    }
}

/// What statements are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatementOrder {
    TotalTime,
    MeanTime,
    Calls,
    Rows,
    SharedBlksRead,
    SharedBlksHit,
    TempBlks,
}

impl StatementOrder {
    pub const ALL: [StatementOrder; 7] = [
        Self::TotalTime,
        Self::MeanTime,
        Self::Calls,
        Self::Rows,
        Self::SharedBlksRead,
        Self::SharedBlksHit,
        Self::TempBlks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TotalTime => "total_time",
            Self::MeanTime => "mean_time",
            Self::Calls => "calls",
            Self::Rows => "rows",
            Self::SharedBlksRead => "shared_blks_read",
            Self::SharedBlksHit => "shared_blks_hit",
            Self::TempBlks => "temp_blks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The figure of `t` this order ranks by (larger first).
    pub fn key(self, t: &StatementTotals) -> f64 {
        match self {
            Self::TotalTime => t.total_time_ms,
            Self::MeanTime => t.mean_time_ms().unwrap_or(0.0),
            Self::Calls => t.calls,
            Self::Rows => t.rows,
            Self::SharedBlksRead => t.shared_blks_read,
            Self::SharedBlksHit => t.shared_blks_hit,
            Self::TempBlks => t.temp_blks_written,
        }
    }
}

/// Top statements of one server over a range, from one tier.
#[derive(Debug, Clone)]
pub struct StatementsQuery {
    pub server_id: i64,
    pub tier: Tier,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub order: StatementOrder,
    pub limit: usize,
    /// Only this statement (`…/statements/{queryid}`).
    pub queryid: Option<String>,
    pub datname: Option<String>,
    pub username: Option<String>,
}

/// A statement's sums over a range (from the deltas the agent stores per interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementTotals {
    pub queryid: String,
    pub datname: Option<String>,
    pub username: Option<String>,
    /// The statement's text, redacted by the agent; absent when no text was kept.
    pub query: Option<String>,
    pub calls: f64,
    /// Execution time, milliseconds.
    pub total_time_ms: f64,
    pub plan_time_ms: f64,
    pub rows: f64,
    pub shared_blks_hit: f64,
    pub shared_blks_read: f64,
    pub shared_blks_dirtied: f64,
    pub shared_blks_written: f64,
    pub temp_blks_written: f64,
    pub blk_read_time_ms: f64,
    pub blk_write_time_ms: f64,
    pub wal_bytes: f64,
}

impl StatementTotals {
    pub fn mean_time_ms(&self) -> Option<f64> {
        (self.calls > 0.0).then(|| self.total_time_ms / self.calls)
    }
}

/// The figures summed per statement, in [`StatementTotals`] order: `pg_statement` columns.
pub const STATEMENT_FIGURES: [&str; 12] = [
    "calls",
    "exec_time_ms",
    "plan_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "temp_blks_written",
    "blk_read_time_ms",
    "blk_write_time_ms",
    "wal_bytes",
];

impl StatementTotals {
    /// Totals from [`STATEMENT_FIGURES`] sums.
    pub fn from_sums(
        queryid: String,
        datname: Option<String>,
        username: Option<String>,
        s: &[f64],
    ) -> Self {
        let at = |i: usize| s.get(i).copied().unwrap_or(0.0);
        Self {
            queryid,
            datname,
            username,
            query: None,
            calls: at(0),
            total_time_ms: at(1),
            plan_time_ms: at(2),
            rows: at(3),
            shared_blks_hit: at(4),
            shared_blks_read: at(5),
            shared_blks_dirtied: at(6),
            shared_blks_written: at(7),
            temp_blks_written: at(8),
            blk_read_time_ms: at(9),
            blk_write_time_ms: at(10),
            wal_bytes: at(11),
        }
    }
}

/// Ranks `all` by `order` (larger first; ties by query id, database and user so pages are
/// stable) and keeps the first `limit`.
pub fn rank_statements(
    mut all: Vec<StatementTotals>,
    order: StatementOrder,
    limit: usize,
) -> Vec<StatementTotals> {
    all.sort_by(|a, b| {
        order.key(b).total_cmp(&order.key(a)).then_with(|| {
            (&a.queryid, &a.datname, &a.username).cmp(&(&b.queryid, &b.datname, &b.username))
        })
    });
    all.truncate(limit);
    all
}

/// A search of log events: every filter given must match; lists match any of their values.
#[derive(Debug, Clone, Default)]
pub struct LogSearch {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub servers: Vec<i64>,
    pub severities: Vec<String>,
    pub categories: Vec<String>,
    pub kinds: Vec<String>,
    /// Five characters: that SQLSTATE; two: its class.
    pub sqlstates: Vec<String>,
    pub databases: Vec<String>,
    pub users: Vec<String>,
    pub applications: Vec<String>,
    /// Words the message must all contain (PostgreSQL text search, `simple` configuration:
    /// no stemming, any language).
    pub text: Option<String>,
    /// Only events older than this (time, event id): the cursor of the previous page.
    pub before: Option<(OffsetDateTime, i64)>,
    pub limit: usize,
}

/// One stored log event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEventRow {
    pub event_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub time: OffsetDateTime,
    pub server_id: i64,
    pub severity: Option<String>,
    pub category: Option<String>,
    pub kind: Option<String>,
    pub sqlstate: Option<String>,
    pub datname: Option<String>,
    pub username: Option<String>,
    pub application_name: Option<String>,
    pub pid: Option<f64>,
    pub duration_ms: Option<f64>,
    pub message: Option<String>,
    /// The message's template id: every event of the same template has the same one,
    /// whatever its values and the server's language.
    pub template: Option<String>,
    /// The typed fields of its kind that it has (`buffers`, `relation`, `lock_mode`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// How many events of one kind fell in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogCount {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub bucket: OffsetDateTime,
    pub kind: Option<String>,
    pub count: i64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TierStore: Send + Sync {
    /// Rolls raw rows up: for each family, the hours that ended more than
    /// [`GRACE`](pganalytics_domain::rollup::GRACE) before `now` from its hourly watermark
    /// (at most `max_hours` per family), the days whose hours are all rolled, then the hours
    /// marked by late rows (with the hour after each, and their days). Idempotent; the
    /// buckets MUST equal [`roll_up`](pganalytics_domain::rollup::roll_up) and
    /// [`merge`](pganalytics_domain::rollup::merge) over the raw rows.
    async fn roll_up(
        &self,
        now: OffsetDateTime,
        max_hours: u32,
    ) -> Result<RollupReport, StoreError>;

    /// Every family's watermarks.
    async fn rollup_watermarks(&self) -> Result<Vec<Watermark>, StoreError>;

    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` match.
    async fn read_buckets(&self, q: &BucketQuery) -> Result<Vec<Bucket>, StoreError>;

    /// The query's columns from a rolled tier, one series per column and label set, buckets
    /// in time order (`from <= bucket < to`).
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` buckets
    /// match.
    async fn query_rolled(
        &self,
        q: &SeriesQuery,
        tier: Tier,
    ) -> Result<Vec<RolledSeries>, StoreError>;

    /// The query's columns from raw rows, folded into `step` buckets aligned on `origin` as
    /// the rollups fold hours (gauges: sum and count; counters: increase and seconds
    /// covered, each reading against its predecessor within
    /// [`LOOKBACK`](pganalytics_domain::rollup::LOOKBACK), which may lie before `from`): one
    /// series per column and label set, buckets of the readings `from <= time < to` in time
    /// order (the first may start before `from`). The buckets MUST equal
    /// [`roll_up_in`](pganalytics_domain::rollup::roll_up_in) over the raw rows.
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` raw rows
    /// are read: those of the range, and those of the lookback when a counter is asked for.
    async fn query_steps(
        &self,
        q: &SeriesQuery,
        origin: OffsetDateTime,
        step: Duration,
    ) -> Result<Vec<RolledSeries>, StoreError>;

    /// Every statement of the server with readings in the range (raw rows `from <= time <
    /// to`, buckets `from <= bucket < to`), summed, ranked by `order`, at most `limit`; each
    /// with its latest text from any tier.
    async fn top_statements(&self, q: &StatementsQuery)
    -> Result<Vec<StatementTotals>, StoreError>;

    /// Matching events, newest first (time, then event id), at most `limit`.
    async fn search_log_events(&self, q: &LogSearch) -> Result<Vec<LogEventRow>, StoreError>;

    /// Matching events counted per kind in `step` buckets aligned on the epoch.
    async fn count_log_events(
        &self,
        q: &LogSearch,
        step: Duration,
    ) -> Result<Vec<LogCount>, StoreError>;

    /// Moves every partition of every tier that ended before `before` to a compressed,
    /// columnar access method, where the database offers one (Citus' `columnar`); returns
    /// how many moved (0 where none is offered).
    async fn compress_partitions(&self, before: OffsetDateTime) -> Result<u32, StoreError>;

    /// Retention chosen through the API, by family.
    async fn stored_retention(&self) -> Result<BTreeMap<String, Retention>, StoreError>;

    /// Stores the family's retention, or forgets it (`None`: back to the settings file and
    /// the defaults).
    async fn set_retention(
        &self,
        family: &'static str,
        retention: Option<Retention>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}
