//! `pg_stat_statements`: each interval, the top N statements by execution time with what
//! they did during the interval (deltas, see `pganalytics_domain::statements`), and the text
//! of each statement once per agent run. The frequent reading asks for no text
//! (`pg_stat_statements(false)`: the texts live in a file PostgreSQL would read whole);
//! texts are fetched only for statements not sent in the last day, and redacted of any literal the
//! normaliser left (utility statements keep theirs: `ALTER ROLE … PASSWORD '…'`).

use std::collections::{HashMap, HashSet};

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Timestamptz};
use diesel::{QueryableByName, RunQueryDsl};
use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::redact::redact_sql;
use pganalytics_domain::statements::{
    StatementCounters, StatementKey, StatementsSnapshot, top_deltas,
};
use serde_json::json;
use time::OffsetDateTime;

use super::{Ctx, PG14, PG17, PgStatsError};

const FAMILY: &str = "pg_statement";

#[derive(Debug, Clone)]
pub struct StatementsOptions {
    /// Statements sent per interval, the most execution time first.
    pub top_n: usize,
    /// Send statement texts (normalised by PostgreSQL and redacted by the agent).
    pub send_texts: bool,
    /// Texts are cut to this many bytes.
    pub max_text_bytes: usize,
}

impl Default for StatementsOptions {
    fn default() -> Self {
        Self {
            top_n: 100,
            send_texts: true,
            max_text_bytes: 16 * 1024,
        }
    }
}

/// What the collector remembers between runs.
#[derive(Debug)]
pub(super) struct StatementsState {
    opts: StatementsOptions,
    prev: StatementsSnapshot,
    /// Texts sent, and when: each is sent again a day later, so the server always holds a
    /// recent one (raw rows are kept a week; rollups keep the latest text of each hour and
    /// day for their retention).
    texts_sent: HashMap<(String, i64), OffsetDateTime>,
}

/// How often a statement's text is sent again.
const TEXT_RESEND: time::Duration = time::Duration::DAY;

impl StatementsState {
    pub(super) fn new(opts: StatementsOptions) -> Self {
        Self {
            opts,
            prev: StatementsSnapshot::default(),
            texts_sent: HashMap::new(),
        }
    }
}

/// Block times: 17 split them into shared and local.
fn sql(schema: &str, version: i32) -> String {
    let (read_time, write_time) = if version >= PG17 {
        (
            "s.shared_blk_read_time + s.local_blk_read_time",
            "s.shared_blk_write_time + s.local_blk_write_time",
        )
    } else {
        ("s.blk_read_time", "s.blk_write_time")
    };
    format!(
        "/* pganalytics-agent */
SELECT d.datname::text AS datname, r.rolname::text AS username, s.queryid AS queryid,
       sum(s.calls)::int8 AS calls, sum(s.total_exec_time)::float8 AS exec_time_ms,
       sum(s.total_plan_time)::float8 AS plan_time_ms, sum(s.rows)::int8 AS rows,
       sum(s.shared_blks_hit)::int8 AS shared_blks_hit,
       sum(s.shared_blks_read)::int8 AS shared_blks_read,
       sum(s.shared_blks_dirtied)::int8 AS shared_blks_dirtied,
       sum(s.shared_blks_written)::int8 AS shared_blks_written,
       sum(s.temp_blks_written)::int8 AS temp_blks_written,
       sum({read_time})::float8 AS blk_read_time_ms,
       sum({write_time})::float8 AS blk_write_time_ms,
       sum(s.wal_bytes)::float8 AS wal_bytes
FROM {schema}.pg_stat_statements(false) s
JOIN pg_database d ON d.oid = s.dbid
JOIN pg_roles r ON r.oid = s.userid
WHERE s.queryid IS NOT NULL
GROUP BY 1, 2, 3"
    )
}

const SCHEMA_SQL: &str = "/* pganalytics-agent */
SELECT quote_ident(n.nspname)::text AS schema FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'";

#[derive(QueryableByName)]
struct Schema {
    #[diesel(sql_type = Text)]
    schema: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = BigInt)]
    queryid: i64,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = Double)]
    exec_time_ms: f64,
    #[diesel(sql_type = Double)]
    plan_time_ms: f64,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    shared_blks_hit: i64,
    #[diesel(sql_type = BigInt)]
    shared_blks_read: i64,
    #[diesel(sql_type = BigInt)]
    shared_blks_dirtied: i64,
    #[diesel(sql_type = BigInt)]
    shared_blks_written: i64,
    #[diesel(sql_type = BigInt)]
    temp_blks_written: i64,
    #[diesel(sql_type = Double)]
    blk_read_time_ms: f64,
    #[diesel(sql_type = Double)]
    blk_write_time_ms: f64,
    #[diesel(sql_type = Double)]
    wal_bytes: f64,
}

#[derive(QueryableByName)]
struct Reset {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    stats_reset: Option<OffsetDateTime>,
}

#[derive(QueryableByName)]
struct QueryText {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = BigInt)]
    queryid: i64,
    #[diesel(sql_type = Text)]
    query: String,
}

fn failed(e: impl std::fmt::Display) -> PgStatsError {
    PgStatsError::query(FAMILY, &e)
}

/// Where the extension lives, or the fix when it is not installed.
pub fn extension_schema(conn: &mut PgConnection) -> Result<String, PgStatsError> {
    let found: Vec<Schema> = diesel::sql_query(SCHEMA_SQL).load(conn).map_err(failed)?;
    found.into_iter().next().map(|s| s.schema).ok_or_else(|| {
        failed(
            "the pg_stat_statements extension is not installed in the agent's database: \
             add pg_stat_statements to shared_preload_libraries (restart), then run \
             CREATE EXTENSION pg_stat_statements",
        )
    })
}

fn snapshot(ctx: &mut Ctx<'_>, schema: &str) -> Result<StatementsSnapshot, PgStatsError> {
    let rows: Vec<Row> = diesel::sql_query(sql(schema, ctx.version))
        .load(ctx.conn)
        .map_err(failed)?;
    let stats_reset = if ctx.version >= PG14 {
        let info: Reset = diesel::sql_query(format!(
            "/* pganalytics-agent */ SELECT stats_reset FROM {schema}.pg_stat_statements_info"
        ))
        .get_result(ctx.conn)
        .map_err(failed)?;
        info.stats_reset
    } else {
        None
    };
    let entries: HashMap<StatementKey, StatementCounters> = rows
        .into_iter()
        .map(|r| {
            let key = StatementKey {
                datname: r.datname,
                username: r.username,
                queryid: r.queryid,
            };
            let counters = StatementCounters {
                calls: r.calls,
                exec_time_ms: r.exec_time_ms,
                plan_time_ms: r.plan_time_ms,
                rows: r.rows,
                shared_blks_hit: r.shared_blks_hit,
                shared_blks_read: r.shared_blks_read,
                shared_blks_dirtied: r.shared_blks_dirtied,
                shared_blks_written: r.shared_blks_written,
                temp_blks_written: r.temp_blks_written,
                blk_read_time_ms: r.blk_read_time_ms,
                blk_write_time_ms: r.blk_write_time_ms,
                wal_bytes: r.wal_bytes,
            };
            (key, counters)
        })
        .collect();
    Ok(StatementsSnapshot {
        taken_at: Some(OffsetDateTime::now_utc()),
        stats_reset,
        entries,
    })
}

const COLUMNS: &[&str] = &[
    "datname",
    "username",
    "queryid",
    "interval_seconds",
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

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    let schema = extension_schema(ctx.conn)?;
    let cur = snapshot(ctx, &schema)?;
    let prev = std::mem::replace(&mut ctx.statements.prev, cur);
    let Some((seconds, top)) = top_deltas(&prev, &ctx.statements.prev, ctx.statements.opts.top_n)
    else {
        return Ok(Vec::new());
    };
    let mut rows = CollectedRows::new(FAMILY, COLUMNS);
    for (k, d) in &top {
        rows.push(vec![
            json!(k.datname),
            json!(k.username),
            json!(k.queryid.to_string()),
            json!(seconds),
            json!(d.calls),
            json!(d.exec_time_ms),
            json!(d.plan_time_ms),
            json!(d.rows),
            json!(d.shared_blks_hit),
            json!(d.shared_blks_read),
            json!(d.shared_blks_dirtied),
            json!(d.shared_blks_written),
            json!(d.temp_blks_written),
            json!(d.blk_read_time_ms),
            json!(d.blk_write_time_ms),
            json!(d.wal_bytes),
        ]);
    }
    let mut out = vec![rows];
    if ctx.statements.opts.send_texts {
        out.push(texts(ctx, &schema, top.iter().map(|(k, _)| k))?);
    }
    Ok(out)
}

/// Texts of the statements among `keys` whose text was not sent in the last day.
fn texts<'k>(
    ctx: &mut Ctx<'_>,
    schema: &str,
    keys: impl Iterator<Item = &'k StatementKey>,
) -> Result<CollectedRows, PgStatsError> {
    let state = &mut *ctx.statements;
    let now = state.prev.taken_at.unwrap_or_else(OffsetDateTime::now_utc);
    let missing: Vec<i64> = keys
        .filter(|k| {
            state
                .texts_sent
                .get(&(k.datname.clone(), k.queryid))
                .is_none_or(|at| now - *at >= TEXT_RESEND)
        })
        .map(|k| k.queryid)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut rows = CollectedRows::new("pg_statement_text", &["datname", "queryid", "query"]);
    if missing.is_empty() {
        return Ok(rows);
    }
    let found: Vec<QueryText> = diesel::sql_query(format!(
        "/* pganalytics-agent */
SELECT DISTINCT ON (d.datname, s.queryid) d.datname::text AS datname, s.queryid AS queryid,
       s.query AS query
FROM {schema}.pg_stat_statements(true) s JOIN pg_database d ON d.oid = s.dbid
WHERE s.queryid = ANY($1)"
    ))
    .bind::<Array<BigInt>, _>(&missing)
    .load(ctx.conn)
    .map_err(failed)?;
    // Bounded: a server with endlessly new statements must not grow the agent forever.
    if state.texts_sent.len() > 100_000 {
        state.texts_sent.clear();
    }
    for t in found {
        let mut text = redact_sql(&t.query);
        truncate_at_char(&mut text, state.opts.max_text_bytes);
        rows.push(vec![
            json!(t.datname),
            json!(t.queryid.to_string()),
            json!(text),
        ]);
        state.texts_sent.insert((t.datname, t.queryid), now);
    }
    Ok(rows)
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
