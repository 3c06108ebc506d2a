//! Storage tiers on PostgreSQL: rollups computed by SQL from each family's watermark and
//! recomputed for late hours, rolled series, top statements, log search, retention.
//!
//! The rollup SQL is built from the catalog ([`pganalytics_domain::rollup::columns`]) and
//! must equal the domain's reference computation; `adapters/tests/postgres_tiers.rs`
//! compares the two for every family.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_domain::audit::AuditEntry;
use pganalytics_domain::catalog::{self, ColumnKind, FAMILIES, FamilySpec};
use pganalytics_domain::rollup::{
    self, Bucket, GRACE, LOOKBACK, Part, Retention, RolledPoint, RollupColumn, Scalar, Tier,
};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    BucketQuery, LogCount, LogEventRow, LogSearch, RolledSeries, RollupReport, STATEMENT_FIGURES,
    SeriesQuery, StatementOrder, StatementTotals, StatementsQuery, TierStore, Watermark,
};
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};

use super::metrics::equal_filters;
use super::people::{Tx, audited, tx_result, write_audit};
use super::{PgStore, store_error};

type Query<'a> =
    diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery>;

/// Late hours recomputed per family and pass; more wait for the next pass.
const LATE_HOURS_PER_PASS: i64 = 5_000;

fn label_names(family: &FamilySpec) -> Vec<&'static str> {
    family.labels().map(|c| c.name).collect()
}

/// `server_id, <labels>`: what identifies a series.
fn series_columns(family: &FamilySpec) -> String {
    std::iter::once("server_id")
        .chain(label_names(family))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column list of a rollup table, in table order.
fn rollup_column_list(family: &'static FamilySpec) -> String {
    let mut cols = vec!["bucket".to_owned(), series_columns(family)];
    cols.push("samples".into());
    cols.push("seconds".into());
    cols.extend(rollup::columns(family).iter().map(RollupColumn::name));
    cols.join(", ")
}

/// The counter delta of a reading against the previous one of its series, a reset counting
/// as the value since it (as `pganalytics_domain::rates`).
fn delta(c: &str) -> String {
    format!(
        "CASE WHEN dt IS NOT NULL AND {c} IS NOT NULL AND {c}__prev IS NOT NULL THEN \
         CASE WHEN {c} >= {c}__prev THEN {c} - {c}__prev ELSE greatest({c}, 0) END END"
    )
}

/// Rolls the hour starting at `$1` of every series (or of server `$2`) up from raw rows.
fn hourly_sql(family: &'static FamilySpec, one_server: bool) -> String {
    let series = series_columns(family);
    let lookback = LOOKBACK.whole_seconds();
    let mut inner = vec!["time".to_owned(), series.clone()];
    for c in family
        .columns
        .iter()
        .filter(|c| c.kind != ColumnKind::Label)
    {
        inner.push(c.name.to_owned());
        if c.kind == ColumnKind::Counter {
            inner.push(format!("lag({0}) OVER w AS {0}__prev", c.name));
        }
    }
    inner.push("lead(time) OVER w IS NULL AS is_last".into());
    inner.push(format!(
        "CASE WHEN lag(time) OVER w < time AND lag(time) OVER w >= time - interval '{lookback} seconds' \
         THEN date_part('epoch', time - lag(time) OVER w) END AS dt"
    ));
    let mut aggs = vec![
        "$1::timestamptz".to_owned(),
        series.clone(),
        "count(*)::int".into(),
        "coalesce(sum(dt), 0)".into(),
    ];
    for rc in rollup::columns(family) {
        let c = rc.source.name;
        aggs.push(match rc.part {
            Part::Min => format!("min({c})"),
            Part::Max => format!("max({c})"),
            Part::Sum => format!("sum({c})"),
            Part::Count => format!("count({c})::int"),
            Part::Last => format!("max({c}) FILTER (WHERE is_last)"),
            Part::Increase => format!("sum({})::bigint", delta(c)),
            Part::MaxRate => format!("max(({})::float8 / dt)", delta(c)),
        });
    }
    let server = if one_server {
        " AND server_id = $2"
    } else {
        ""
    };
    format!(
        "INSERT INTO metrics_hourly.{f} ({cols}) SELECT {aggs} FROM (\
         SELECT {inner} FROM metrics.{f} \
         WHERE time >= $1::timestamptz - interval '{lookback} seconds' AND time < $1::timestamptz + interval '1 hour'{server} \
         WINDOW w AS (PARTITION BY {series} ORDER BY time)) r \
         WHERE time >= $1::timestamptz GROUP BY {series}",
        f = family.name,
        cols = rollup_column_list(family),
        aggs = aggs.join(", "),
        inner = inner.join(", "),
    )
}

/// Rolls the day starting at `$1` of every series (or of server `$2`) up from its hours.
fn daily_sql(family: &'static FamilySpec, one_server: bool) -> String {
    let series = series_columns(family);
    let mut aggs = vec![
        "$1::timestamptz".to_owned(),
        series.clone(),
        "sum(samples)::int".into(),
        "sum(seconds)".into(),
    ];
    for rc in rollup::columns(family) {
        let c = rc.name();
        aggs.push(match rc.part {
            Part::Min => format!("min({c})"),
            Part::Max | Part::MaxRate => format!("max({c})"),
            Part::Sum => format!("sum({c})"),
            Part::Increase => format!("sum({c})::bigint"),
            Part::Count => format!("sum({c})::int"),
            Part::Last => format!("max({c}) FILTER (WHERE is_last)"),
        });
    }
    let server = if one_server {
        " AND server_id = $2"
    } else {
        ""
    };
    format!(
        "INSERT INTO metrics_daily.{f} ({cols}) SELECT {aggs} FROM (\
         SELECT *, row_number() OVER (PARTITION BY {series} ORDER BY bucket DESC) = 1 AS is_last \
         FROM metrics_hourly.{f} WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 day'{server}) h \
         GROUP BY {series}",
        f = family.name,
        cols = rollup_column_list(family),
        aggs = aggs.join(", "),
    )
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = BigInt)]
    buckets: i64,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

#[derive(QueryableByName)]
struct CountRow1 {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count_of(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64, StoreError> {
    let row: CountRow1 = diesel::sql_query(sql)
        .get_result(conn)
        .await
        .map_err(|e| store_error(e, "partition"))?;
    Ok(row.n)
}

#[derive(QueryableByName)]
struct MarkRow {
    #[diesel(sql_type = Text)]
    family: String,
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = Timestamptz)]
    done_until: OffsetDateTime,
}

#[derive(QueryableByName)]
struct LateRow {
    #[diesel(sql_type = BigInt)]
    server_id: i64,
    #[diesel(sql_type = Timestamptz)]
    hour: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

#[derive(QueryableByName)]
struct FirstRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first: Option<OffsetDateTime>,
}

/// Replaces one bucket (of every series, or of one server) of `tier` on `conn`.
async fn replace_bucket(
    conn: &mut AsyncPgConnection,
    family: &'static FamilySpec,
    tier: Tier,
    start: OffsetDateTime,
    server: Option<i64>,
) -> Result<Written, diesel::result::Error> {
    let (schema, f) = (tier.schema(), family.name);
    let scope = if server.is_some() {
        "bucket = $1 AND server_id = $2"
    } else {
        "bucket = $1"
    };
    let delete = format!("DELETE FROM {schema}.{f} WHERE {scope}");
    let insert = if tier == Tier::Hourly {
        hourly_sql(family, server.is_some())
    } else {
        daily_sql(family, server.is_some())
    };
    let written = format!(
        "SELECT count(*)::bigint AS buckets, coalesce(sum(samples), 0)::bigint AS rows \
         FROM {schema}.{f} WHERE {scope}"
    );
    let bind = |sql: String| {
        let q = diesel::sql_query(sql)
            .into_boxed()
            .bind::<Timestamptz, _>(start);
        match server {
            Some(id) => q.bind::<BigInt, _>(id),
            None => q,
        }
    };
    bind(delete).execute(conn).await?;
    // A plain INSERT … SELECT (Citus refuses one with RETURNING or in a CTE when it has
    // parameters), then what it wrote, read back through the bucket's index.
    bind(insert).execute(conn).await?;
    let mut written: Vec<Written> = bind(written).load(conn).await?;
    Ok(written.pop().unwrap_or(Written {
        buckets: 0,
        rows: 0,
    }))
}

async fn set_mark(
    conn: &mut AsyncPgConnection,
    family: &str,
    tier: Tier,
    done_until: OffsetDateTime,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO rollup_watermarks (family, tier, done_until) VALUES ($1, $2, $3) \
         ON CONFLICT (family, tier) DO UPDATE SET done_until = excluded.done_until",
    )
    .bind::<Text, _>(family)
    .bind::<Text, _>(tier.as_str())
    .bind::<Timestamptz, _>(done_until)
    .execute(conn)
    .await
    .map(drop)
}

impl PgStore {
    async fn marks(&self) -> Result<BTreeMap<(String, Tier), OffsetDateTime>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<MarkRow> =
            diesel::sql_query("SELECT family, tier, done_until FROM rollup_watermarks")
                .load(&mut conn)
                .await
                .map_err(|e| store_error(e, "rollup watermark"))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some(((r.family, Tier::parse(&r.tier)?), r.done_until)))
            .collect())
    }

    /// Where a family without a watermark starts: its oldest raw hour, or the hour now
    /// rolls up to when it has no rows.
    async fn first_hour(
        &self,
        family: &'static FamilySpec,
        target: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        let mut conn = self.conn().await?;
        let first: FirstRow = diesel::sql_query(format!(
            "SELECT min(time) AS first FROM metrics.{}",
            family.name
        ))
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "metric"))?;
        Ok(first
            .first
            .map_or(target, |t| Tier::Hourly.bucket_start(t).min(target)))
    }

    /// Replaces a bucket and, in the same transaction, moves the watermark past it.
    async fn roll_bucket(
        &self,
        family: &'static FamilySpec,
        tier: Tier,
        start: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        self.ensure_partitions(BTreeSet::from([(
            tier,
            family.name,
            tier.partition_of(start),
        )]))
        .await?;
        let step = tier.bucket().unwrap_or(Duration::HOUR);
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let w = replace_bucket(conn, family, tier, start, None).await?;
            set_mark(conn, family.name, tier, start + step).await?;
            Ok(w)
        })
        .await
        .map_err(|e| store_error(e, "rollup"))
    }

    /// Forgets marks at or past `hourly` (the watermark pass reads those rows anyway) and
    /// recomputes the hours marked late behind it (each with the next hour, when that is
    /// behind it too); returns the (server, day) pairs whose daily buckets need the same.
    async fn roll_late_hours(
        &self,
        family: &'static FamilySpec,
        hourly: OffsetDateTime,
        report: &mut RollupReport,
    ) -> Result<BTreeSet<(i64, OffsetDateTime)>, StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("DELETE FROM rollup_dirty_hours WHERE family = $1 AND hour >= $2")
            .bind::<Text, _>(family.name)
            .bind::<Timestamptz, _>(hourly)
            .execute(&mut conn)
            .await
            .map_err(|e| store_error(e, "rollup"))?;
        let late: Vec<LateRow> = diesel::sql_query(
            "SELECT server_id, hour, version FROM rollup_dirty_hours WHERE family = $1 AND hour < $2 \
             ORDER BY server_id, hour LIMIT $3",
        )
        .bind::<Text, _>(family.name)
        .bind::<Timestamptz, _>(hourly)
        .bind::<BigInt, _>(LATE_HOURS_PER_PASS)
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "rollup"))?;
        let mut days = BTreeSet::new();
        for mark in late {
            let mut hours = vec![mark.hour];
            if mark.hour + Duration::HOUR < hourly {
                hours.push(mark.hour + Duration::HOUR);
            }
            let needed = hours
                .iter()
                .map(|h| (Tier::Hourly, family.name, Tier::Hourly.partition_of(*h)))
                .collect();
            self.ensure_partitions(needed).await?;
            let written = conn
                .transaction::<_, diesel::result::Error, _>(async |conn| {
                    let mut all = Vec::new();
                    for h in &hours {
                        all.push(
                            replace_bucket(conn, family, Tier::Hourly, *h, Some(mark.server_id))
                                .await?,
                        );
                    }
                    // Only the marking seen: a later one (its rows maybe not read here)
                    // keeps the mark for the next pass.
                    diesel::sql_query(
                        "DELETE FROM rollup_dirty_hours WHERE server_id = $1 AND family = $2 \
                         AND hour = $3 AND version = $4",
                    )
                    .bind::<BigInt, _>(mark.server_id)
                    .bind::<Text, _>(family.name)
                    .bind::<Timestamptz, _>(mark.hour)
                    .bind::<BigInt, _>(mark.version)
                    .execute(conn)
                    .await?;
                    Ok(all)
                })
                .await
                .map_err(|e| store_error(e, "rollup"))?;
            for (h, w) in hours.iter().zip(written) {
                report.buckets_recomputed += 1;
                report.buckets_written += w.buckets as u64;
                report.rows_rolled_up += w.rows as u64;
                days.insert((mark.server_id, Tier::Daily.bucket_start(*h)));
            }
        }
        Ok(days)
    }
}

#[derive(QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = Timestamptz)]
    bucket: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    server_id: i64,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    labels: Vec<Option<String>>,
    #[diesel(sql_type = Integer)]
    samples: i32,
    #[diesel(sql_type = Double)]
    seconds: f64,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    nums: Vec<Option<f64>>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    texts: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Timestamptz>>)]
    times: Vec<Option<OffsetDateTime>>,
}

/// Where a rollup column's value travels in a query answer.
#[derive(Clone, Copy)]
enum Slot {
    Num,
    Text,
    Time,
}

fn slot(c: &RollupColumn) -> Slot {
    match (c.part, c.source.kind) {
        (Part::Last, ColumnKind::Text) => Slot::Text,
        (Part::Last, ColumnKind::Timestamp) => Slot::Time,
        _ => Slot::Num,
    }
}

fn array_of(items: &[String], ty: &str) -> String {
    format!("ARRAY[{}]::{ty}[]", items.join(", "))
}

#[derive(QueryableByName)]
struct RolledRow {
    #[diesel(sql_type = Timestamptz)]
    bucket: OffsetDateTime,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    labels: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    vals: Vec<Option<f64>>,
}

#[derive(QueryableByName)]
struct StepRow {
    /// NULL for the lookback's readings (predecessors only).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    bucket: Option<OffsetDateTime>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    labels: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    vals: Vec<Option<f64>>,
    /// Raw rows read into the group.
    #[diesel(sql_type = BigInt)]
    read: i64,
}

/// Rows ordered by labels then bucket, with a (numerator, denominator) pair per query
/// column: one series per column and label set.
fn rolled_series(
    q: &SeriesQuery,
    labels: &[&'static str],
    rows: &[RolledRow],
) -> Vec<RolledSeries> {
    let mut out: Vec<RolledSeries> = Vec::new();
    for (j, col) in q.columns.iter().enumerate() {
        let start = out.len();
        for r in rows {
            let (Some(numerator), Some(denominator)) = (
                r.vals.get(2 * j).copied().flatten(),
                r.vals.get(2 * j + 1).copied().flatten(),
            ) else {
                continue;
            };
            let point = RolledPoint {
                time: r.bucket,
                numerator,
                denominator,
            };
            let map: BTreeMap<String, Option<String>> = labels
                .iter()
                .map(|l| l.to_string())
                .zip(r.labels.iter().cloned())
                .collect();
            RolledSeries::push(&mut out, start, col.name, map, point);
        }
    }
    out
}

/// The query's raw rows (`$1` server, `$2`..`$3` range, at most `$4` read, filters from
/// `$7`) folded into steps of `$6` seconds aligned on `$5`, as [`hourly_sql`] folds hours:
/// per column a (numerator, denominator) pair, with the count of raw rows read. Counters
/// need each reading's predecessor, so their rows are read from a lookback before `$2`
/// (grouped under a NULL bucket) and sorted per series; gauges are only grouped. Groups
/// come in no order.
fn steps_sql(q: &SeriesQuery) -> String {
    let labels = label_names(q.family);
    let lookback = LOOKBACK.whole_seconds();
    let counters = q.columns.iter().any(|c| c.kind == ColumnKind::Counter);
    let raw_columns: Vec<&str> = std::iter::once("time")
        .chain(labels.iter().copied())
        .chain(q.columns.iter().map(|c| c.name))
        .collect();
    let mut vals = Vec::new();
    for c in &q.columns {
        if c.kind == ColumnKind::Counter {
            vals.push(format!("sum({})::float8", delta(c.name)));
            vals.push("coalesce(sum(dt), 0)::float8".to_owned());
        } else {
            vals.push(format!("sum({})::float8", c.name));
            vals.push(format!("count({})::float8", c.name));
        }
    }
    let read = |since: &str| {
        format!(
            "SELECT {} FROM metrics.{} WHERE server_id = $1 AND time >= {since} AND time < $3{} LIMIT $4",
            raw_columns.join(", "),
            q.family.name,
            equal_filters(&q.filters, 7),
        )
    };
    let source = if counters {
        let mut inner: Vec<String> = raw_columns.iter().map(|c| c.to_string()).collect();
        for c in q.columns.iter().filter(|c| c.kind == ColumnKind::Counter) {
            inner.push(format!("lag({0}) OVER w AS {0}__prev", c.name));
        }
        inner.push(format!(
            "CASE WHEN lag(time) OVER w < time AND lag(time) OVER w >= time - interval '{lookback} seconds' \
             THEN date_part('epoch', time - lag(time) OVER w) END AS dt"
        ));
        let partition = if labels.is_empty() {
            String::new()
        } else {
            format!("PARTITION BY {} ", labels.join(", "))
        };
        format!(
            "SELECT {} FROM ({}) raw WINDOW w AS ({partition}ORDER BY time)",
            inner.join(", "),
            read(&format!("$2::timestamptz - interval '{lookback} seconds'")),
        )
    } else {
        read("$2")
    };
    // date_part, not extract: a float, not a numeric, in every PostgreSQL version.
    let bucket = "$5::timestamptz + make_interval(secs => floor(date_part('epoch', time - $5::timestamptz) / $6) * $6)";
    format!(
        "SELECT {bucket} AS bucket, {label_array} AS labels, {vals} AS vals, count(*) AS read \
         FROM ({source}) r GROUP BY 1{label_list}",
        bucket = if counters {
            format!("CASE WHEN time >= $2 THEN {bucket} END")
        } else {
            bucket.to_owned()
        },
        label_array = array_of(
            &labels.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            "text"
        ),
        vals = array_of(&vals, "float8"),
        label_list = labels.iter().map(|l| format!(", {l}")).collect::<String>(),
    )
}

#[derive(QueryableByName)]
struct StatementRow {
    #[diesel(sql_type = Nullable<Text>)]
    queryid: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    datname: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    sums: Vec<Option<f64>>,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Nullable<Text>)]
    datname: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    queryid: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    query: Option<String>,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Timestamptz)]
    time: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    server_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    severity: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    category: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sqlstate: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    datname: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    application_name: Option<String>,
    #[diesel(sql_type = Nullable<Double>)]
    pid: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    duration_ms: Option<f64>,
    #[diesel(sql_type = Nullable<Text>)]
    message: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    template: Option<String>,
    /// The kind's fields as a JSON object without its nulls.
    #[diesel(sql_type = Text)]
    fields: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Timestamptz)]
    bucket: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct RetentionRow {
    #[diesel(sql_type = Text)]
    family: String,
    #[diesel(sql_type = Integer)]
    raw_days: i32,
    #[diesel(sql_type = Integer)]
    hourly_days: i32,
    #[diesel(sql_type = Integer)]
    daily_days: i32,
}

/// A log search's `WHERE` (binds from `$first`), and the values to bind in order.
struct LogWhere {
    sql: String,
    times: Vec<OffsetDateTime>,
    ids: Vec<Vec<i64>>,
    lists: Vec<Vec<String>>,
    text: Option<String>,
    cursor: Option<(OffsetDateTime, i64)>,
}

fn log_where(q: &LogSearch, time_column: &str) -> LogWhere {
    let mut w = LogWhere {
        sql: "TRUE".into(),
        times: vec![],
        ids: vec![],
        lists: vec![],
        text: None,
        cursor: None,
    };
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if let Some(from) = q.from {
        w.sql
            .push_str(&format!(" AND {time_column} >= ${}", next()));
        w.times.push(from);
    }
    if let Some(to) = q.to {
        w.sql.push_str(&format!(" AND {time_column} < ${}", next()));
        w.times.push(to);
    }
    if !q.servers.is_empty() {
        w.sql
            .push_str(&format!(" AND server_id = ANY(${})", next()));
        w.ids.push(q.servers.clone());
    }
    for (column, values) in [
        ("severity", &q.severities),
        ("category", &q.categories),
        ("kind", &q.kinds),
        ("datname", &q.databases),
        ("username", &q.users),
        ("application_name", &q.applications),
    ] {
        if !values.is_empty() {
            w.sql.push_str(&format!(" AND {column} = ANY(${})", next()));
            w.lists.push(values.clone());
        }
    }
    if !q.sqlstates.is_empty() {
        let p = next();
        w.sql.push_str(&format!(
            " AND (sqlstate = ANY(${p}) OR left(sqlstate, 2) = ANY(${p}))"
        ));
        w.lists.push(q.sqlstates.clone());
    }
    if let Some(text) = &q.text {
        w.sql.push_str(&format!(
            " AND to_tsvector('simple', message) @@ plainto_tsquery('simple', ${})",
            next()
        ));
        w.text = Some(text.clone());
    }
    if let Some(cursor) = q.before {
        let (a, b) = (next(), next());
        w.sql
            .push_str(&format!(" AND ({time_column}, event_id) < (${a}, ${b})"));
        w.cursor = Some(cursor);
    }
    w
}

fn bind_where<'a>(mut query: Query<'a>, w: &LogWhere) -> Query<'a> {
    // The same order as `log_where` numbers them.
    for t in &w.times {
        query = query.bind::<Timestamptz, _>(*t);
    }
    for ids in &w.ids {
        query = query.bind::<Array<BigInt>, _>(ids.clone());
    }
    for list in &w.lists {
        query = query.bind::<Array<Text>, _>(list.clone());
    }
    if let Some(text) = &w.text {
        query = query.bind::<Text, _>(text.clone());
    }
    if let Some((t, id)) = w.cursor {
        query = query.bind::<Timestamptz, _>(t).bind::<BigInt, _>(id);
    }
    query
}

fn limit_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX - 1)
}

#[async_trait]
impl TierStore for PgStore {
    async fn roll_up(
        &self,
        now: OffsetDateTime,
        max_hours: u32,
    ) -> Result<RollupReport, StoreError> {
        let target = Tier::Hourly.bucket_start(now - GRACE);
        let marks = self.marks().await?;
        let mut report = RollupReport::default();
        let mut oldest = now;
        for family in FAMILIES {
            let mut hourly = match marks.get(&(family.name.to_owned(), Tier::Hourly)) {
                Some(t) => *t,
                None => self.first_hour(family, target).await?,
            };
            // Late hours first, against the watermark as it stands: marks at or past it are
            // forgotten (the pass below reads their rows), those behind it recomputed. An
            // hour that just ended is then rolled once, not rolled and recomputed.
            let late_days = self.roll_late_hours(family, hourly, &mut report).await?;
            let mut n = 0;
            while hourly < target && n < max_hours {
                let w = self.roll_bucket(family, Tier::Hourly, hourly).await?;
                report.hours_rolled += 1;
                report.buckets_written += w.buckets as u64;
                report.rows_rolled_up += w.rows as u64;
                hourly += Duration::HOUR;
                n += 1;
            }
            let mut daily = match marks.get(&(family.name.to_owned(), Tier::Daily)) {
                Some(t) => *t,
                None => Tier::Daily.bucket_start(self.first_hour(family, hourly).await?),
            };
            let day_target = Tier::Daily.bucket_start(hourly);
            while daily < day_target {
                let w = self.roll_bucket(family, Tier::Daily, daily).await?;
                report.days_rolled += 1;
                report.buckets_written += w.buckets as u64;
                daily += Duration::DAY;
            }
            let mut conn = self.conn().await?;
            for (server, day) in late_days.into_iter().filter(|(_, d)| *d < daily) {
                self.ensure_partitions(BTreeSet::from([(
                    Tier::Daily,
                    family.name,
                    Tier::Daily.partition_of(day),
                )]))
                .await?;
                let w = conn
                    .transaction::<_, diesel::result::Error, _>(async |conn| {
                        replace_bucket(conn, family, Tier::Daily, day, Some(server)).await
                    })
                    .await
                    .map_err(|e| store_error(e, "rollup"))?;
                report.buckets_recomputed += 1;
                report.buckets_written += w.buckets as u64;
            }
            if !marks.contains_key(&(family.name.to_owned(), Tier::Hourly)) {
                // A family with nothing to roll yet still records where it starts.
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    set_mark(conn, family.name, Tier::Hourly, hourly).await?;
                    set_mark(conn, family.name, Tier::Daily, daily).await
                })
                .await
                .map_err(|e| store_error(e, "rollup watermark"))?;
            }
            oldest = oldest.min(hourly);
        }
        report.lag_seconds = (now - oldest).whole_seconds().max(0);
        Ok(report)
    }

    async fn rollup_watermarks(&self) -> Result<Vec<Watermark>, StoreError> {
        Ok(self
            .marks()
            .await?
            .into_iter()
            .filter_map(|((family, tier), done_until)| {
                Some(Watermark {
                    family: catalog::family(&family)?.name,
                    tier,
                    done_until,
                })
            })
            .collect())
    }

    async fn read_buckets(&self, q: &BucketQuery) -> Result<Vec<Bucket>, StoreError> {
        let cols = rollup::columns(q.family);
        let (mut nums, mut texts, mut times) = (vec![], vec![], vec![]);
        for c in &cols {
            match slot(c) {
                Slot::Num => nums.push(format!("{}::float8", c.name())),
                Slot::Text => texts.push(c.name()),
                Slot::Time => times.push(c.name()),
            }
        }
        let labels: Vec<String> = label_names(q.family)
            .iter()
            .map(|l| l.to_string())
            .collect();
        let sql = format!(
            "SELECT bucket, server_id, {labels} AS labels, samples, seconds, {nums} AS nums, \
             {texts} AS texts, {times} AS times FROM {schema}.{f} \
             WHERE bucket >= $1 AND bucket < $2 ORDER BY server_id, bucket LIMIT $3",
            labels = array_of(&labels, "text"),
            nums = array_of(&nums, "float8"),
            texts = array_of(&texts, "text"),
            times = array_of(&times, "timestamptz"),
            schema = q.tier.schema(),
            f = q.family.name,
        );
        let mut conn = self.conn().await?;
        let rows: Vec<BucketRow> = diesel::sql_query(sql)
            .bind::<Timestamptz, _>(q.from)
            .bind::<Timestamptz, _>(q.to)
            .bind::<BigInt, _>(limit_of(q.max_rows) + 1)
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "rollup"))?;
        if rows.len() > q.max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let (mut n, mut t, mut m) =
                    (r.nums.into_iter(), r.texts.into_iter(), r.times.into_iter());
                let values = cols
                    .iter()
                    .map(|c| match slot(c) {
                        Slot::Num => n.next().flatten().map(Scalar::Num),
                        Slot::Text => t.next().flatten().map(Scalar::Text),
                        Slot::Time => m.next().flatten().map(Scalar::Time),
                    })
                    .collect();
                Bucket {
                    start: r.bucket,
                    server_id: r.server_id,
                    labels: r.labels,
                    samples: i64::from(r.samples),
                    seconds: r.seconds,
                    values,
                }
            })
            .collect())
    }

    async fn query_rolled(
        &self,
        q: &SeriesQuery,
        tier: Tier,
    ) -> Result<Vec<RolledSeries>, StoreError> {
        let labels = label_names(q.family);
        let mut vals = Vec::new();
        for c in &q.columns {
            if c.kind == ColumnKind::Counter {
                vals.push(format!("{}_increase::float8", c.name));
                vals.push("seconds".to_owned());
            } else {
                vals.push(format!("{}_sum", c.name));
                vals.push(format!("{}_count::float8", c.name));
            }
        }
        let order: String = labels.iter().map(|l| format!("{l}, ")).collect();
        let sql = format!(
            "SELECT bucket, {labels} AS labels, {vals} AS vals FROM {schema}.{f} \
             WHERE server_id = $1 AND bucket >= $2 AND bucket < $3{filters} ORDER BY {order}bucket LIMIT $4",
            labels = array_of(
                &labels.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
                "text"
            ),
            vals = array_of(&vals, "float8"),
            schema = tier.schema(),
            f = q.family.name,
            filters = equal_filters(&q.filters, 5),
        );
        let mut query = diesel::sql_query(sql)
            .into_boxed()
            .bind::<BigInt, _>(q.server_id)
            .bind::<Timestamptz, _>(q.from)
            .bind::<Timestamptz, _>(q.to)
            .bind::<BigInt, _>(limit_of(q.max_rows) + 1);
        for (_, v) in &q.filters {
            query = query.bind::<Text, _>(v.clone());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<RolledRow> = query
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "rollup"))?;
        if rows.len() > q.max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(rolled_series(q, &labels, &rows))
    }

    async fn query_steps(
        &self,
        q: &SeriesQuery,
        origin: OffsetDateTime,
        step: Duration,
    ) -> Result<Vec<RolledSeries>, StoreError> {
        let labels = label_names(q.family);
        let mut query = diesel::sql_query(steps_sql(q))
            .into_boxed()
            .bind::<BigInt, _>(q.server_id)
            .bind::<Timestamptz, _>(q.from)
            .bind::<Timestamptz, _>(q.to)
            .bind::<BigInt, _>(limit_of(q.max_rows) + 1)
            .bind::<Timestamptz, _>(origin)
            .bind::<Double, _>(step.as_seconds_f64());
        for (_, v) in &q.filters {
            query = query.bind::<Text, _>(v.clone());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<StepRow> = query
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "metric"))?;
        let read: i64 = rows.iter().map(|r| r.read).sum();
        if usize::try_from(read).unwrap_or(usize::MAX) > q.max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        let mut rows: Vec<RolledRow> = rows
            .into_iter()
            .filter_map(|r| {
                Some(RolledRow {
                    bucket: r.bucket?,
                    labels: r.labels,
                    vals: r.vals,
                })
            })
            .collect();
        // Fewer than the raw rows: cheaper to order here than in the database's collation.
        rows.sort_by(|a, b| (&a.labels, a.bucket).cmp(&(&b.labels, b.bucket)));
        Ok(rolled_series(q, &labels, &rows))
    }

    async fn top_statements(
        &self,
        q: &StatementsQuery,
    ) -> Result<Vec<StatementTotals>, StoreError> {
        let (time, column): (&str, fn(&str) -> String) = match q.tier {
            Tier::Raw => ("time", |c| c.to_owned()),
            _ => ("bucket", |c| format!("{c}_sum")),
        };
        let sum = |c: &str| format!("coalesce(sum({}), 0)", column(c));
        let key = match q.order {
            StatementOrder::TotalTime => sum("exec_time_ms"),
            StatementOrder::MeanTime => format!(
                "coalesce(sum({}) / NULLIF(sum({}), 0), 0)",
                column("exec_time_ms"),
                column("calls")
            ),
            StatementOrder::Calls => sum("calls"),
            StatementOrder::Rows => sum("rows"),
            StatementOrder::SharedBlksRead => sum("shared_blks_read"),
            StatementOrder::SharedBlksHit => sum("shared_blks_hit"),
            StatementOrder::TempBlks => sum("temp_blks_written"),
        };
        let sums: Vec<String> = STATEMENT_FIGURES.iter().map(|c| sum(c)).collect();
        let mut filters: Vec<(&'static str, String)> = Vec::new();
        for (column, value) in [
            ("queryid", &q.queryid),
            ("datname", &q.datname),
            ("username", &q.username),
        ] {
            if let Some(v) = value {
                filters.push((column, v.clone()));
            }
        }
        let sql = format!(
            "SELECT queryid, datname, username, {sums} AS sums FROM {schema}.pg_statement \
             WHERE server_id = $1 AND {time} >= $2 AND {time} < $3{filters} \
             GROUP BY queryid, datname, username \
             ORDER BY {key} DESC, queryid COLLATE \"C\" NULLS FIRST, datname COLLATE \"C\" NULLS FIRST, \
             username COLLATE \"C\" NULLS FIRST LIMIT $4",
            sums = array_of(&sums, "float8"),
            schema = q.tier.schema(),
            filters = equal_filters(&filters, 5),
        );
        let mut query = diesel::sql_query(sql)
            .into_boxed()
            .bind::<BigInt, _>(q.server_id)
            .bind::<Timestamptz, _>(q.from)
            .bind::<Timestamptz, _>(q.to)
            .bind::<BigInt, _>(limit_of(q.limit));
        for (_, v) in &filters {
            query = query.bind::<Text, _>(v.clone());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<StatementRow> = query
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "statement"))?;
        let mut out: Vec<StatementTotals> = rows
            .into_iter()
            .map(|r| {
                let sums: Vec<f64> = r.sums.iter().map(|v| v.unwrap_or(0.0)).collect();
                StatementTotals::from_sums(
                    r.queryid.unwrap_or_default(),
                    r.datname,
                    r.username,
                    &sums,
                )
            })
            .collect();
        // Texts: the latest kept anywhere, raw rows first, then hourly and daily rollups.
        let ids: Vec<String> = out
            .iter()
            .map(|s| s.queryid.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut texts: BTreeMap<(Option<String>, String), String> = BTreeMap::new();
        for sql in [
            "SELECT DISTINCT ON (datname, queryid) datname, queryid, query FROM metrics.pg_statement_text \
              WHERE server_id = $1 AND queryid = ANY($2) AND query IS NOT NULL ORDER BY datname, queryid, time DESC",
            "SELECT DISTINCT ON (datname, queryid) datname, queryid, query_last AS query FROM metrics_hourly.pg_statement_text \
              WHERE server_id = $1 AND queryid = ANY($2) AND query_last IS NOT NULL ORDER BY datname, queryid, bucket DESC",
            "SELECT DISTINCT ON (datname, queryid) datname, queryid, query_last AS query FROM metrics_daily.pg_statement_text \
              WHERE server_id = $1 AND queryid = ANY($2) AND query_last IS NOT NULL ORDER BY datname, queryid, bucket DESC",
        ] {
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| {
                    out.iter().any(|s| {
                        &s.queryid == *id
                            && !texts.contains_key(&(s.datname.clone(), s.queryid.clone()))
                    })
                })
                .cloned()
                .collect();
            if missing.is_empty() {
                break;
            }
            let rows: Vec<TextRow> = diesel::sql_query(sql)
                .bind::<BigInt, _>(q.server_id)
                .bind::<Array<Text>, _>(missing)
                .load(&mut conn)
                .await
                .map_err(|e| store_error(e, "statement"))?;
            for r in rows {
                if let (Some(id), Some(text)) = (r.queryid, r.query) {
                    texts.entry((r.datname, id)).or_insert(text);
                }
            }
        }
        for s in &mut out {
            s.query = texts.get(&(s.datname.clone(), s.queryid.clone())).cloned();
        }
        Ok(out)
    }

    async fn search_log_events(&self, q: &LogSearch) -> Result<Vec<LogEventRow>, StoreError> {
        let w = log_where(q, "time");
        let fields = pganalytics_domain::logs::FIELD_COLUMNS
            .iter()
            .map(|c| format!("'{c}', {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT event_id, time, server_id, severity, category, kind, sqlstate, datname, username, \
             application_name, pid, duration_ms, message, template, \
             jsonb_strip_nulls(jsonb_build_object({fields}))::text AS fields \
             FROM metrics.pg_log_event WHERE {} ORDER BY time DESC, event_id DESC LIMIT {}",
            w.sql,
            limit_of(q.limit)
        );
        let mut conn = self.conn().await?;
        let rows: Vec<EventRow> = bind_where(diesel::sql_query(sql).into_boxed(), &w)
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "log event"))?;
        Ok(rows
            .into_iter()
            .map(|r| LogEventRow {
                event_id: r.event_id,
                time: r.time,
                server_id: r.server_id,
                severity: r.severity,
                category: r.category,
                kind: r.kind,
                sqlstate: r.sqlstate,
                datname: r.datname,
                username: r.username,
                application_name: r.application_name,
                pid: r.pid,
                duration_ms: r.duration_ms,
                message: r.message,
                template: r.template,
                fields: serde_json::from_str(&r.fields).unwrap_or_default(),
            })
            .collect())
    }

    async fn count_log_events(
        &self,
        q: &LogSearch,
        step: Duration,
    ) -> Result<Vec<LogCount>, StoreError> {
        let seconds = step.whole_seconds().max(1);
        let w = log_where(q, "time");
        let sql = format!(
            "SELECT to_timestamp(floor(date_part('epoch', time) / {seconds}) * {seconds}) AS bucket, kind, \
             count(*)::bigint AS count FROM metrics.pg_log_event WHERE {} GROUP BY 1, 2 ORDER BY 1, kind COLLATE \"C\" NULLS FIRST",
            w.sql
        );
        let mut conn = self.conn().await?;
        let rows: Vec<CountRow> = bind_where(diesel::sql_query(sql).into_boxed(), &w)
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "log event"))?;
        Ok(rows
            .into_iter()
            .map(|r| LogCount {
                bucket: r.bucket,
                kind: r.kind,
                count: r.count,
            })
            .collect())
    }

    async fn compress_partitions(&self, before: OffsetDateTime) -> Result<u32, StoreError> {
        let mut conn = self.conn().await?;
        let offered = count_of(
            &mut conn,
            "SELECT count(*)::bigint AS n FROM pg_proc WHERE proname = 'alter_old_partitions_set_access_method'",
        )
        .await?
            > 0
            && count_of(&mut conn, "SELECT count(*)::bigint AS n FROM pg_am WHERE amname = 'columnar'")
                .await?
                > 0;
        if !offered {
            return Ok(0);
        }
        let columnar = "SELECT count(*)::bigint AS n FROM pg_class c JOIN pg_am a ON a.oid = c.relam \
                        JOIN pg_namespace n ON n.oid = c.relnamespace \
                        WHERE a.amname = 'columnar' AND n.nspname IN ('metrics', 'metrics_hourly', 'metrics_daily')";
        let before_count = count_of(&mut conn, columnar).await?;
        for tier in Tier::ALL {
            for family in FAMILIES {
                // Citus' procedure: every partition whose upper bound is at or before
                // `before` and is not columnar yet, one at a time.
                diesel::sql_query(format!(
                    "CALL alter_old_partitions_set_access_method('{}.{}', $1, 'columnar')",
                    tier.schema(),
                    family.name
                ))
                .bind::<Timestamptz, _>(before)
                .execute(&mut conn)
                .await
                .map_err(|e| store_error(e, "partition"))?;
            }
        }
        let after = count_of(&mut conn, columnar).await?;
        Ok(u32::try_from(after - before_count).unwrap_or(0))
    }

    async fn stored_retention(&self) -> Result<BTreeMap<String, Retention>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<RetentionRow> = diesel::sql_query(
            "SELECT family, raw_days, hourly_days, daily_days FROM retention_overrides",
        )
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "retention"))?;
        let days = |d: i32| u32::try_from(d).unwrap_or(1);
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.family,
                    Retention {
                        raw_days: days(r.raw_days),
                        hourly_days: days(r.hourly_days),
                        daily_days: days(r.daily_days),
                    },
                )
            })
            .collect())
    }

    async fn set_retention(
        &self,
        family: &'static str,
        retention: Option<Retention>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let days = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
        audited!(self, "retention", audit, |conn| {
            match retention {
                Some(r) => {
                    diesel::sql_query(
                        "INSERT INTO retention_overrides (family, raw_days, hourly_days, daily_days, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (family) DO UPDATE SET raw_days = excluded.raw_days, \
                         hourly_days = excluded.hourly_days, daily_days = excluded.daily_days, updated_at = excluded.updated_at",
                    )
                    .bind::<Text, _>(family)
                    .bind::<Integer, _>(days(r.raw_days))
                    .bind::<Integer, _>(days(r.hourly_days))
                    .bind::<Integer, _>(days(r.daily_days))
                    .bind::<Timestamptz, _>(now)
                    .execute(conn)
                    .await?;
                }
                None => {
                    diesel::sql_query("DELETE FROM retention_overrides WHERE family = $1")
                        .bind::<Text, _>(family)
                        .execute(conn)
                        .await?;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollup_sql_names_every_column_once() {
        for f in FAMILIES {
            for sql in [
                hourly_sql(f, false),
                hourly_sql(f, true),
                daily_sql(f, false),
            ] {
                for c in rollup::columns(f) {
                    assert!(sql.contains(&c.name()), "{} lacks {}", f.name, c.name());
                }
            }
        }
        assert!(
            hourly_sql(catalog::family("pg_database").unwrap(), true).contains("server_id = $2")
        );
    }
}
