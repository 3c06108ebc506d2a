//! Storage tiers for people and scripts: maintenance (rollups, partitions, retention), the
//! retention settings, top statements and log-event search.

use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::catalog::{self, FamilySpec};
use pganalytics_domain::rollup::{
    Retention, RetentionError, RetentionPolicy, RetentionSource, Tier, choose_tier,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::StoreError;
use crate::env::Clock;
use crate::store::{
    AlertStore, LeaderLease, LogCount, LogEventRow, LogSearch, MaintenanceReport, MetricStore,
    SeriesQuery, StatementOrder, StatementTotals, StatementsQuery, TierStore, rank_statements,
};

/// How long a resolved alert and its history are kept.
pub const RESOLVED_ALERTS_KEPT: Duration = Duration::days(30);

/// Hours each family rolls up per pass: a long outage catches up over a few passes.
pub const ROLLUP_HOURS_PER_PASS: u32 = 24;

/// Rollups, partitions created ahead and dropped past each tier's retention, old alerts
/// forgotten: on one server of those sharing a database.
pub struct Maintenance {
    pub metrics: Arc<dyn MetricStore>,
    pub tiers: Arc<dyn TierStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub leader: Arc<dyn LeaderLease>,
    pub clock: Arc<dyn Clock>,
    /// Retention from the settings file.
    pub retention_settings: BTreeMap<String, Retention>,
    /// Partitions older than this move to columnar storage, where the database offers it.
    pub columnar_after: Option<Duration>,
}

impl Maintenance {
    /// The whole task, if this server leads it (an advisory lock held by one server).
    pub async fn run_if_leader(&self) -> Result<Option<MaintenanceReport>, StoreError> {
        if !self.leader.try_lead("maintenance").await? {
            return Ok(None);
        }
        self.run().await.map(Some)
    }

    /// Rolls up first (so nothing is dropped before it is rolled up), then creates and drops
    /// partitions, then forgets alerts resolved more than [`RESOLVED_ALERTS_KEPT`] ago.
    pub async fn run(&self) -> Result<MaintenanceReport, StoreError> {
        let now = self.clock.now();
        let rollup = self.tiers.roll_up(now, ROLLUP_HOURS_PER_PASS).await?;
        let policy = RetentionPolicy {
            settings: self.retention_settings.clone(),
            stored: self.tiers.stored_retention().await?,
        };
        let mut report = self.metrics.maintain(now, &policy).await?;
        report.rollup = rollup;
        if let Some(age) = self.columnar_after {
            report.partitions_compressed = self.tiers.compress_partitions(now - age).await?;
        }
        report.alerts_pruned = self
            .alerts
            .prune_resolved(now - RESOLVED_ALERTS_KEPT)
            .await?;
        Ok(report)
    }
}

/// A family's retention and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FamilyRetention {
    pub family: &'static str,
    #[serde(flatten)]
    pub retention: Retention,
    pub source: RetentionSource,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionAdminError {
    #[error("unknown metric family {0:?}")]
    UnknownFamily(String),
    #[error(transparent)]
    Invalid(#[from] RetentionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Retention per family and tier: read by anyone who reads metrics, changed by admins
/// (audited). Stored choices win over the settings file, which wins over the defaults.
pub struct RetentionAdmin {
    pub tiers: Arc<dyn TierStore>,
    pub clock: Arc<dyn Clock>,
    pub retention_settings: BTreeMap<String, Retention>,
}

impl RetentionAdmin {
    async fn policy(&self) -> Result<RetentionPolicy, StoreError> {
        Ok(RetentionPolicy {
            settings: self.retention_settings.clone(),
            stored: self.tiers.stored_retention().await?,
        })
    }

    fn view(policy: &RetentionPolicy, family: &'static FamilySpec) -> FamilyRetention {
        let (retention, source) = policy.of(family);
        FamilyRetention {
            family: family.name,
            retention,
            source,
        }
    }

    /// Every family, in catalog order.
    pub async fn list(&self) -> Result<Vec<FamilyRetention>, StoreError> {
        let policy = self.policy().await?;
        Ok(catalog::FAMILIES
            .iter()
            .map(|f| Self::view(&policy, f))
            .collect())
    }

    /// Stores `retention` for the family (`None`: forgets the stored choice).
    pub async fn set(
        &self,
        ctx: &AuditContext,
        family: &str,
        retention: Option<Retention>,
    ) -> Result<FamilyRetention, RetentionAdminError> {
        let spec = catalog::family(family)
            .ok_or_else(|| RetentionAdminError::UnknownFamily(family.to_owned()))?;
        if let Some(r) = retention {
            r.validate()?;
        }
        let now = self.clock.now();
        let mut audit = ctx.entry(
            if retention.is_some() {
                "retention.update"
            } else {
                "retention.reset"
            },
            Some(format!("family:{}", spec.name)),
            now,
        );
        if let Some(r) = retention {
            audit = audit
                .detail("raw_days", r.raw_days)
                .detail("hourly_days", r.hourly_days)
                .detail("daily_days", r.daily_days);
        }
        self.tiers
            .set_retention(spec.name, retention, now, &audit)
            .await?;
        Ok(Self::view(&self.policy().await?, spec))
    }
}

/// A request for a server's top statements.
#[derive(Debug, Clone, Default)]
pub struct StatementsRequest {
    pub server_id: i64,
    /// Default: a day before `to`.
    pub from: Option<OffsetDateTime>,
    /// Default: now.
    pub to: Option<OffsetDateTime>,
    /// Default: total time.
    pub order: Option<StatementOrder>,
    /// Default 50, at most [`MAX_STATEMENTS`].
    pub limit: Option<usize>,
    pub datname: Option<String>,
    pub username: Option<String>,
}

/// The most statements one answer lists.
pub const MAX_STATEMENTS: usize = 1_000;

/// Statements one server may have in a range, read whole when a range is answered by two
/// tiers and merged (`pg_stat_statements.max` is 5,000 by default).
const ALL_STATEMENTS: usize = 1_000_000;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RankedStatement {
    #[serde(flatten)]
    pub totals: StatementTotals,
    /// Execution time per call, milliseconds.
    pub mean_time_ms: Option<f64>,
    pub rows_per_call: Option<f64>,
}

impl From<StatementTotals> for RankedStatement {
    fn from(totals: StatementTotals) -> Self {
        let per_call = |v: f64| (totals.calls > 0.0).then(|| v / totals.calls);
        Self {
            mean_time_ms: totals.mean_time_ms(),
            rows_per_call: per_call(totals.rows),
            totals,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StatementsReply {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub tier: Tier,
    pub order: StatementOrder,
    pub statements: Vec<RankedStatement>,
}

/// One step of a statement's series: the sums of its deltas in the step.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementStep {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub time: OffsetDateTime,
    pub calls: f64,
    pub total_time_ms: f64,
    pub mean_time_ms: Option<f64>,
    pub rows: f64,
    pub rows_per_call: Option<f64>,
    pub shared_blks_hit: f64,
    pub shared_blks_read: f64,
    pub temp_blks_written: f64,
}

#[derive(Debug, Clone)]
pub struct StatementDetail {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub step: Duration,
    pub tier: Tier,
    pub downsampled: Option<String>,
    /// Per database and user the statement ran as.
    pub totals: Vec<RankedStatement>,
    pub series: Vec<StatementStep>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatementsError {
    #[error("`{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no statement {0} in this range")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The series of one statement read per step.
const SERIES_FIGURES: [&str; 6] = [
    "calls",
    "exec_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_written",
];

/// Top statements over a range, and one statement's series, from the tier that fits: raw
/// rows for ranges inside a day, hourly rollups inside their retention, daily ones beyond.
/// The part of the range the rollups have not reached yet comes from raw rows.
pub struct QueryStatements {
    pub tiers: Arc<dyn TierStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub clock: Arc<dyn Clock>,
    pub retention_settings: BTreeMap<String, Retention>,
    pub max_points_per_series: i64,
}

fn invalid(field: &'static str, message: impl Into<String>) -> StatementsError {
    StatementsError::Invalid {
        field,
        message: message.into(),
    }
}

impl QueryStatements {
    fn family() -> &'static FamilySpec {
        catalog::family("pg_statement").unwrap_or(&catalog::FAMILIES[0])
    }

    async fn retention(&self) -> Result<Retention, StoreError> {
        Ok(RetentionPolicy {
            settings: self.retention_settings.clone(),
            stored: self.tiers.stored_retention().await?,
        }
        .retention(Self::family()))
    }

    /// The range, checked.
    fn range(
        &self,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<(OffsetDateTime, OffsetDateTime), StatementsError> {
        let to = to.unwrap_or_else(|| self.clock.now());
        let from = from.unwrap_or(to - Duration::DAY);
        if to <= from {
            return Err(invalid("to", "must be after `from`"));
        }
        Ok((from, to))
    }

    /// The tier for a range: raw inside a day (and raw retention), else hourly inside its
    /// retention, else daily; rolled ranges start on a bucket.
    fn tier(from: OffsetDateTime, to: OffsetDateTime, now: OffsetDateTime, r: Retention) -> Tier {
        if to - from <= Duration::DAY && from >= r.horizon(Tier::Raw, now) {
            Tier::Raw
        } else if from >= r.horizon(Tier::Hourly, now) {
            Tier::Hourly
        } else {
            Tier::Daily
        }
    }

    async fn watermark(&self, tier: Tier) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self
            .tiers
            .rollup_watermarks()
            .await?
            .into_iter()
            .find(|w| w.family == "pg_statement" && w.tier == tier)
            .map(|w| w.done_until))
    }

    pub async fn top(&self, req: StatementsRequest) -> Result<StatementsReply, StatementsError> {
        let (from, to) = self.range(req.from, req.to)?;
        let limit = req.limit.unwrap_or(50);
        if !(1..=MAX_STATEMENTS).contains(&limit) {
            return Err(invalid(
                "limit",
                format!("must be between 1 and {MAX_STATEMENTS}"),
            ));
        }
        let order = req.order.unwrap_or(StatementOrder::TotalTime);
        let now = self.clock.now();
        let tier = Self::tier(from, to, now, self.retention().await?);
        let from = if tier == Tier::Raw {
            from
        } else {
            tier.bucket_start(from)
        };
        let query = |tier: Tier, from, to, limit| StatementsQuery {
            server_id: req.server_id,
            tier,
            from,
            to,
            order,
            limit,
            queryid: None,
            datname: req.datname.clone(),
            username: req.username.clone(),
        };
        let statements = match tier {
            Tier::Raw => {
                self.tiers
                    .top_statements(&query(tier, from, to, limit))
                    .await?
            }
            rolled => {
                let split = self
                    .watermark(rolled)
                    .await?
                    .unwrap_or(from)
                    .clamp(from, to);
                let mut all = self
                    .tiers
                    .top_statements(&query(rolled, from, split, ALL_STATEMENTS))
                    .await?;
                if split < to {
                    let tail = self
                        .tiers
                        .top_statements(&query(Tier::Raw, split, to, ALL_STATEMENTS))
                        .await?;
                    all = merge_totals(all, tail);
                }
                rank_statements(all, order, limit)
            }
        };
        Ok(StatementsReply {
            from,
            to,
            tier,
            order,
            statements: statements.into_iter().map(RankedStatement::from).collect(),
        })
    }

    /// One statement over a range: its totals per database and user, and its steps.
    pub async fn detail(
        &self,
        server_id: i64,
        queryid: &str,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        step: Option<Duration>,
    ) -> Result<StatementDetail, StatementsError> {
        if queryid.is_empty()
            || queryid.len() > 20
            || !queryid.chars().all(|c| c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "queryid",
                "must be a pg_stat_statements query id (an integer)",
            ));
        }
        let (from, to) = self.range(from, to)?;
        let asked =
            step.unwrap_or_else(|| Duration::seconds(((to - from).whole_seconds() / 120).max(60)));
        if asked < Duration::SECOND {
            return Err(invalid("step", "must be at least 1 second"));
        }
        let now = self.clock.now();
        let retention = self.retention().await?;
        let choice = choose_tier(from, to, asked, now, retention, self.max_points_per_series);
        let figures: Vec<_> = SERIES_FIGURES
            .iter()
            .filter_map(|c| Self::family().column(c).map(|(_, c)| c))
            .collect();
        let origin = choice.from;
        let step_ns = choice.step.whole_nanoseconds().max(1);
        let mut steps: BTreeMap<i128, [f64; 6]> = BTreeMap::new();
        let mut add = |t: OffsetDateTime, k: usize, v: f64| {
            let b = (t - origin).whole_nanoseconds().div_euclid(step_ns);
            steps.entry(b).or_insert([0.0; 6])[k] += v;
        };
        let filters = vec![("queryid", queryid.to_owned())];
        let mut raw_from = origin;
        if choice.tier != Tier::Raw {
            let split = self
                .watermark(choice.tier)
                .await?
                .unwrap_or(origin)
                .clamp(origin, to);
            let rolled = self
                .tiers
                .query_rolled(
                    &SeriesQuery {
                        server_id,
                        family: Self::family(),
                        columns: figures.clone(),
                        from: origin,
                        to: split,
                        filters: filters.clone(),
                        max_rows: 1_000_000,
                    },
                    choice.tier,
                )
                .await?;
            for s in rolled {
                let k = SERIES_FIGURES
                    .iter()
                    .position(|c| *c == s.column)
                    .unwrap_or(0);
                for p in s.points {
                    add(p.time, k, p.numerator);
                }
            }
            raw_from = split;
        }
        if raw_from < to {
            let raw = self
                .metrics
                .query_series(&SeriesQuery {
                    server_id,
                    family: Self::family(),
                    columns: figures,
                    from: raw_from,
                    to,
                    filters,
                    max_rows: 1_000_000,
                })
                .await?;
            for s in raw {
                let k = SERIES_FIGURES
                    .iter()
                    .position(|c| *c == s.column)
                    .unwrap_or(0);
                for p in s.points {
                    add(p.time, k, p.value);
                }
            }
        }
        let totals = self
            .top(StatementsRequest {
                server_id,
                from: Some(from),
                to: Some(to),
                order: Some(StatementOrder::TotalTime),
                limit: Some(MAX_STATEMENTS),
                datname: None,
                username: None,
            })
            .await?
            .statements
            .into_iter()
            .filter(|s| s.totals.queryid == queryid)
            .collect::<Vec<_>>();
        if totals.is_empty() && steps.is_empty() {
            return Err(StatementsError::NotFound(queryid.to_owned()));
        }
        let per_call = |v: f64, calls: f64| (calls > 0.0).then(|| v / calls);
        Ok(StatementDetail {
            from: origin,
            to,
            step: choice.step,
            tier: choice.tier,
            downsampled: choice.downsampled,
            totals,
            series: steps
                .into_iter()
                .map(|(b, v)| StatementStep {
                    time: origin + Duration::nanoseconds_i128(b * step_ns),
                    calls: v[0],
                    total_time_ms: v[1],
                    mean_time_ms: per_call(v[1], v[0]),
                    rows: v[2],
                    rows_per_call: per_call(v[2], v[0]),
                    shared_blks_hit: v[3],
                    shared_blks_read: v[4],
                    temp_blks_written: v[5],
                })
                .collect(),
        })
    }
}

/// The sums of the same statement (query id, database, user) added up; texts kept.
fn merge_totals(a: Vec<StatementTotals>, b: Vec<StatementTotals>) -> Vec<StatementTotals> {
    type Key = (String, Option<String>, Option<String>);
    let mut all: BTreeMap<Key, StatementTotals> = BTreeMap::new();
    for s in a.into_iter().chain(b) {
        let key = (s.queryid.clone(), s.datname.clone(), s.username.clone());
        match all.get_mut(&key) {
            None => {
                all.insert(key, s);
            }
            Some(t) => {
                t.calls += s.calls;
                t.total_time_ms += s.total_time_ms;
                t.plan_time_ms += s.plan_time_ms;
                t.rows += s.rows;
                t.shared_blks_hit += s.shared_blks_hit;
                t.shared_blks_read += s.shared_blks_read;
                t.shared_blks_dirtied += s.shared_blks_dirtied;
                t.shared_blks_written += s.shared_blks_written;
                t.temp_blks_written += s.temp_blks_written;
                t.blk_read_time_ms += s.blk_read_time_ms;
                t.blk_write_time_ms += s.blk_write_time_ms;
                t.wal_bytes += s.wal_bytes;
                if t.query.is_none() {
                    t.query = s.query;
                }
            }
        }
    }
    all.into_values().collect()
}

/// A log search as a person or script writes it; every field is checked.
#[derive(Debug, Clone, Default)]
pub struct LogSearchRequest {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub servers: Vec<i64>,
    pub severities: Vec<String>,
    pub categories: Vec<String>,
    pub kinds: Vec<String>,
    pub sqlstates: Vec<String>,
    pub databases: Vec<String>,
    pub users: Vec<String>,
    pub applications: Vec<String>,
    pub text: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// A page of events, newest first, and the cursor of the next page (absent on the last).
#[derive(Debug, Clone)]
pub struct LogPage {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub events: Vec<LogEventRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LogCounts {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub step: Duration,
    pub counts: Vec<LogCount>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogSearchError {
    #[error("`{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The severities PostgreSQL writes.
pub const SEVERITIES: [&str; 11] = [
    "DEBUG5", "DEBUG4", "DEBUG3", "DEBUG2", "DEBUG1", "LOG", "INFO", "NOTICE", "WARNING", "ERROR",
    "FATAL",
];

/// The most events one page holds.
pub const MAX_PAGE: usize = 1_000;

/// The most buckets one count answer holds.
pub const MAX_COUNT_BUCKETS: i64 = 2_000;

fn bad(field: &'static str, message: impl Into<String>) -> LogSearchError {
    LogSearchError::Invalid {
        field,
        message: message.into(),
    }
}

/// Search across servers' log events: filters, full text, pages by cursor.
pub struct SearchLogEvents {
    pub tiers: Arc<dyn TierStore>,
    pub clock: Arc<dyn Clock>,
}

/// `<unix nanoseconds>.<event id>`, base64url: the position after the last event of a page.
pub fn encode_cursor(time: OffsetDateTime, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}.{id}", time.unix_timestamp_nanos()))
}

pub fn decode_cursor(s: &str) -> Option<(OffsetDateTime, i64)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (t, id) = text.split_once('.')?;
    let time = OffsetDateTime::from_unix_timestamp_nanos(t.parse().ok()?).ok()?;
    Some((time, id.parse().ok()?))
}

impl SearchLogEvents {
    fn search(&self, req: &LogSearchRequest) -> Result<LogSearch, LogSearchError> {
        let to = req.to.unwrap_or_else(|| self.clock.now());
        let from = req.from.unwrap_or(to - Duration::DAY);
        if to <= from {
            return Err(bad("to", "must be after `from`"));
        }
        for s in &req.severities {
            if !SEVERITIES.contains(&s.as_str()) && s != "PANIC" {
                return Err(bad(
                    "severity",
                    format!(
                        "{s:?} is not a PostgreSQL severity (one of {}, PANIC)",
                        SEVERITIES.join(", ")
                    ),
                ));
            }
        }
        for s in &req.sqlstates {
            let ok = (s.len() == 2 || s.len() == 5)
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
            if !ok {
                return Err(bad(
                    "sqlstate",
                    format!(
                        "{s:?} is neither a SQLSTATE (5 characters, e.g. 40P01) nor a class (2, e.g. 40)"
                    ),
                ));
            }
        }
        for (field, values) in [
            ("category", &req.categories),
            ("kind", &req.kinds),
            ("database", &req.databases),
            ("user", &req.users),
            ("application", &req.applications),
        ] {
            if values.iter().any(|v| v.is_empty() || v.len() > 256) {
                return Err(bad(field, "values must be 1 to 256 characters"));
            }
        }
        if let Some(t) = &req.text
            && (t.trim().is_empty() || t.len() > 500)
        {
            return Err(bad("q", "the search text must be 1 to 500 characters"));
        }
        let limit = req.limit.unwrap_or(100);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad("limit", format!("must be between 1 and {MAX_PAGE}")));
        }
        let before = match &req.cursor {
            None => None,
            Some(c) => {
                Some(decode_cursor(c).ok_or_else(|| bad("cursor", "not a cursor this API gave"))?)
            }
        };
        Ok(LogSearch {
            from: Some(from),
            to: Some(to),
            servers: req.servers.clone(),
            severities: req.severities.clone(),
            categories: req.categories.clone(),
            kinds: req.kinds.clone(),
            sqlstates: req.sqlstates.clone(),
            databases: req.databases.clone(),
            users: req.users.clone(),
            applications: req.applications.clone(),
            text: req.text.clone(),
            before,
            limit,
        })
    }

    /// One page, newest first. The cursor points after the page's last event, so events
    /// arriving meanwhile (newer) never shift later pages.
    pub async fn page(&self, req: &LogSearchRequest) -> Result<LogPage, LogSearchError> {
        let mut q = self.search(req)?;
        let limit = q.limit;
        q.limit = limit + 1;
        let mut events = self.tiers.search_log_events(&q).await?;
        let more = events.len() > limit;
        events.truncate(limit);
        let next_cursor = more
            .then(|| events.last().map(|e| encode_cursor(e.time, e.event_id)))
            .flatten();
        Ok(LogPage {
            from: q.from.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            to: q.to.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            events,
            next_cursor,
        })
    }

    /// Matching events per kind in `step` buckets (default: about 60 over the range).
    pub async fn counts(
        &self,
        req: &LogSearchRequest,
        step: Option<Duration>,
    ) -> Result<LogCounts, LogSearchError> {
        let mut q = self.search(req)?;
        q.before = None;
        let (from, to) = (
            q.from.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            q.to.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        );
        let span = (to - from).whole_seconds().max(1);
        let step = step.unwrap_or_else(|| Duration::seconds((span / 60).max(60)));
        if step < Duration::SECOND {
            return Err(bad("step", "must be at least 1 second"));
        }
        if span / step.whole_seconds().max(1) > MAX_COUNT_BUCKETS {
            return Err(bad(
                "step",
                format!("the range holds more than {MAX_COUNT_BUCKETS} steps; use a larger step"),
            ));
        }
        let counts = self.tiers.count_log_events(&q, step).await?;
        Ok(LogCounts {
            from,
            to,
            step,
            counts,
        })
    }
}

crate::usecases::auth::opaque_debug!(
    Maintenance,
    RetentionAdmin,
    QueryStatements,
    SearchLogEvents
);
