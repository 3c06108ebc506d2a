//! What alert evaluation reads: rows of a family in a window, the latest time of a family
//! per server, SQL rules on their own read-only session; and the leader lock.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Double, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use pganalytics_domain::alerts::eval::{Row, RowsNeed, SqlRow};
use pganalytics_domain::alerts::fold::{Fold, FoldExpr, FoldedRow};
use pganalytics_domain::catalog::{ColumnKind, ColumnSpec, FamilySpec};
use pganalytics_ports::StoreError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

use super::{PgStore, store_error};

/// The login SQL rules run as (see migration 10).
pub const RULE_READER: &str = "pganalytics_rule_reader";

#[derive(QueryableByName)]
struct WindowRow {
    #[diesel(sql_type = BigInt)]
    server_id: i64,
    #[diesel(sql_type = Timestamptz)]
    time: OffsetDateTime,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    labels: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    vals: Vec<Option<f64>>,
}

/// The same URL, logged in as the rule reader (no password: the private cluster trusts its
/// socket; elsewhere `sql_rules_url` names a login).
pub fn rule_reader_url(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    // A socket URL (`postgresql:///db?host=/dir`) has no authority to carry a user.
    if u.has_host() {
        u.set_username("").ok()?;
        u.set_password(None).ok()?;
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "user" && k != "password")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("user", RULE_READER);
    Some(u.to_string())
}

/// A need's query with its parameters bound: servers ($1), from ($2), to ($3), one row more
/// than `max_rows` ($4, so that too many is seen), and the label filters ($5 on).
fn bound<'a>(
    sql: String,
    need: &RowsNeed,
    max_rows: usize,
) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    let limit = i64::try_from(max_rows).unwrap_or(i64::MAX - 1) + 1;
    let mut q = diesel::sql_query(sql)
        .into_boxed()
        .bind::<Array<BigInt>, _>(need.servers.clone())
        .bind::<Timestamptz, _>(need.from)
        .bind::<Timestamptz, _>(need.to)
        .bind::<BigInt, _>(limit);
    for f in &need.filters {
        q = q.bind::<Array<Text>, _>(f.values.clone());
    }
    q
}

/// The label columns as one `text[]` (in catalog order).
fn label_array(labels: &[&str]) -> String {
    if labels.is_empty() {
        "ARRAY[]::text[]".to_owned()
    } else {
        format!("ARRAY[{}]::text[]", labels.join(", "))
    }
}

/// The SQL of a need's label filters, bound from `$5` on.
fn label_filters(need: &RowsNeed) -> String {
    let mut filters = String::new();
    for (i, f) in need.filters.iter().enumerate() {
        let p = i + 5;
        // Column names come from the catalog, never from the rule text.
        if f.prefix {
            filters.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM unnest(${p}::text[]) p WHERE starts_with({}, p))",
                f.column
            ));
        } else {
            filters.push_str(&format!(" AND {} = ANY(${p}::text[])", f.column));
        }
    }
    filters
}

impl PgStore {
    pub(super) async fn window_rows(
        &self,
        need: &RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.rows(need, max_rows, false).await
    }

    /// The rows of each server's latest time in the window: per server, one backward step
    /// of the (server_id, time) index, then the rows at that time.
    pub(super) async fn latest_rows(
        &self,
        need: &RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.rows(need, max_rows, true).await
    }

    async fn rows(
        &self,
        need: &RowsNeed,
        max_rows: usize,
        latest: bool,
    ) -> Result<Vec<Row>, StoreError> {
        if need.servers.is_empty() {
            return Ok(Vec::new());
        }
        let labels: Vec<&str> = need.family.labels().map(|c| c.name).collect();
        let label_array = label_array(&labels);
        let vals: Vec<String> = need
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Timestamp => format!("date_part('epoch', {})", c.name),
                _ => format!("{}::float8", c.name),
            })
            .collect();
        let filters = label_filters(need);
        let family = need.family.name;
        let from = if latest {
            // Both steps inside the lateral subquery: per server, index lookups (a join
            // outside it is planned as a scan of the whole partition).
            format!(
                "unnest($1::int8[]) s(id) \
                 CROSS JOIN LATERAL (SELECT * FROM metrics.{family} m \
                   WHERE m.server_id = s.id AND m.time = (SELECT max(time) FROM metrics.{family} \
                     WHERE server_id = s.id AND time >= $2 AND time <= $3)) m \
                 WHERE true{filters}"
            )
        } else {
            format!(
                "metrics.{family} WHERE server_id = ANY($1) AND time >= $2 AND time <= $3{filters}"
            )
        };
        let sql = format!(
            "SELECT server_id, time, {label_array} AS labels, ARRAY[{}]::float8[] AS vals \
             FROM {from} LIMIT $4",
            vals.join(", "),
        );
        let q = bound(sql, need, max_rows);
        let mut conn = self.conn().await?;
        let rows: Vec<WindowRow> = q
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "metric"))?;
        if rows.len() > max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| Row {
                server_id: r.server_id,
                time: r.time,
                labels: r.labels,
                values: r.vals,
            })
            .collect())
    }

    /// [`Self::window_rows`], folded per series by PostgreSQL: one row per series leaves the
    /// database instead of every reading.
    pub(super) async fn window_folds(
        &self,
        need: &RowsNeed,
        exprs: &[FoldExpr],
        max_rows: usize,
    ) -> Result<Vec<FoldedRow>, StoreError> {
        #[derive(QueryableByName)]
        struct FoldRow {
            #[diesel(sql_type = BigInt)]
            server_id: i64,
            #[diesel(sql_type = Array<Nullable<Text>>)]
            labels: Vec<Option<String>>,
            #[diesel(sql_type = Array<Nullable<BigInt>>)]
            counts: Vec<Option<i64>>,
            #[diesel(sql_type = Array<Nullable<Double>>)]
            sums: Vec<Option<f64>>,
            #[diesel(sql_type = Array<Nullable<Double>>)]
            mins: Vec<Option<f64>>,
            #[diesel(sql_type = Array<Nullable<Double>>)]
            maxs: Vec<Option<f64>>,
            #[diesel(sql_type = Array<Nullable<Double>>)]
            lasts: Vec<Option<f64>>,
            #[diesel(sql_type = Array<Nullable<Timestamptz>>)]
            last_times: Vec<Option<OffsetDateTime>>,
        }
        if need.servers.is_empty() || exprs.is_empty() {
            return Ok(Vec::new());
        }
        let labels: Vec<&str> = need.family.labels().map(|c| c.name).collect();
        let value = |c: &ColumnSpec| match c.kind {
            ColumnKind::Timestamp => format!("date_part('epoch', {})", c.name),
            _ => format!("{}::float8", c.name),
        };
        // Each expression is a sum of columns: NULL when one of them is, as in `fold_rows`.
        let mut inner: Vec<String> = Vec::new();
        for (i, e) in exprs.iter().enumerate() {
            let sum: Vec<String> = e
                .columns
                .iter()
                .map(|&c| need.columns.get(c).map(|c| value(c)))
                .collect::<Option<_>>()
                .ok_or_else(|| StoreError::Invalid("a folded column is not read".into()))?;
            inner.push(format!("({}) AS e{i}", sum.join(" + ")));
        }
        // Only the parts each expression's function reads; the others stay NULL (neutral).
        let part = |wanted: &dyn Fn(&FoldExpr) -> bool, agg: &dyn Fn(usize) -> String| {
            let items: Vec<String> = exprs
                .iter()
                .enumerate()
                .map(|(i, e)| if wanted(e) { agg(i) } else { "NULL".into() })
                .collect();
            items.join(", ")
        };
        let label_array = label_array(&labels);
        // Grouped by the label columns themselves (cheaper to hash than an array).
        let group: String = labels.iter().map(|l| format!(", {l}")).collect();
        let filters = label_filters(need);
        let sql = format!(
            "SELECT server_id, {label_array} AS labels, \
               ARRAY[{counts}]::int8[] AS counts, ARRAY[{sums}]::float8[] AS sums, \
               ARRAY[{mins}]::float8[] AS mins, ARRAY[{maxs}]::float8[] AS maxs, \
               ARRAY[{lasts}]::float8[] AS lasts, ARRAY[{times}]::timestamptz[] AS last_times \
             FROM (SELECT server_id, time{group}, {inner} \
                   FROM metrics.{family} \
                   WHERE server_id = ANY($1) AND time >= $2 AND time <= $3{filters}) r \
             GROUP BY server_id{group} LIMIT $4",
            counts = part(&|_| true, &|i| format!("count(e{i})")),
            sums = part(&|e| e.parts().0, &|i| format!("sum(e{i})")),
            mins = part(&|e| e.parts().1, &|i| format!("min(e{i})")),
            maxs = part(&|e| e.parts().2, &|i| format!("max(e{i})")),
            // The reading at the latest time, without sorting: arrays compare element by
            // element, so the greatest [epoch, value] is the latest reading.
            lasts = part(&|e| e.parts().3, &|i| format!(
                "(max(ARRAY[date_part('epoch', time), e{i}]) FILTER (WHERE e{i} IS NOT NULL))[2]"
            )),
            times = part(&|e| e.parts().3, &|i| format!(
                "max(time) FILTER (WHERE e{i} IS NOT NULL)"
            )),
            inner = inner.join(", "),
            family = need.family.name,
        );
        let q = bound(sql, need, max_rows);
        let mut conn = self.conn().await?;
        // One row per series can be hundreds of thousands of groups: room to hash them in
        // memory (the default 4 MB spills them to disk), for this transaction only.
        let rows: Vec<FoldRow> = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query("SET LOCAL work_mem = '64MB'")
                    .execute(conn)
                    .await?;
                q.load(conn).await
            })
            .await
            .map_err(|e| store_error(e, "metric"))?;
        if rows.len() > max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let folds = (0..exprs.len())
                    .map(|i| {
                        let count = r.counts.get(i).copied().flatten().unwrap_or(0);
                        if count == 0 {
                            return None;
                        }
                        let e = Fold::EMPTY;
                        let got = |v: &[Option<f64>], neutral: f64| {
                            v.get(i).copied().flatten().unwrap_or(neutral)
                        };
                        Some(Fold {
                            count: u64::try_from(count).unwrap_or(0),
                            sum: got(&r.sums, e.sum),
                            min: got(&r.mins, e.min),
                            max: got(&r.maxs, e.max),
                            last: got(&r.lasts, e.last),
                            last_time: r
                                .last_times
                                .get(i)
                                .copied()
                                .flatten()
                                .unwrap_or(e.last_time),
                        })
                    })
                    .collect();
                FoldedRow {
                    server_id: r.server_id,
                    labels: r.labels,
                    folds,
                }
            })
            .collect())
    }

    pub(super) async fn family_last_seen(
        &self,
        family: &'static FamilySpec,
        since: OffsetDateTime,
        servers: &[i64],
    ) -> Result<BTreeMap<i64, OffsetDateTime>, StoreError> {
        #[derive(QueryableByName)]
        struct Last {
            #[diesel(sql_type = BigInt)]
            server_id: i64,
            #[diesel(sql_type = Timestamptz)]
            time: OffsetDateTime,
        }
        if servers.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<Last> = diesel::sql_query(format!(
            "SELECT s AS server_id, (SELECT max(time) FROM metrics.{} m \
               WHERE m.server_id = s AND m.time >= $2) AS time \
             FROM unnest($1::int8[]) s",
            family.name
        ))
        .bind::<Array<BigInt>, _>(servers.to_vec())
        .bind::<Timestamptz, _>(since)
        .load::<LastOrNull>(&mut conn)
        .await
        .map_err(|e| store_error(e, "metric"))?
        .into_iter()
        .filter_map(|r| {
            Some(Last {
                server_id: r.server_id,
                time: r.time?,
            })
        })
        .collect();
        Ok(rows.into_iter().map(|r| (r.server_id, r.time)).collect())
    }

    pub(super) async fn rule_sql(
        &self,
        query: &str,
        timeout: std::time::Duration,
        max_rows: usize,
    ) -> Result<Vec<SqlRow>, StoreError> {
        #[derive(QueryableByName)]
        struct J {
            #[diesel(sql_type = Jsonb)]
            row: Value,
        }
        let url = self.rule_reader_url.as_deref().ok_or_else(|| {
            StoreError::Invalid("SQL rules are not available: set sql_rules_url".into())
        })?;
        let mut guard = self.rule_reader.lock().await;
        if guard.is_none() {
            let conn = AsyncPgConnection::establish(url).await.map_err(|e| {
                StoreError::Invalid(format!(
                    "SQL rules run as the {RULE_READER} login, which cannot connect: {}; \
                     create it (migration 10 does where it may) or set sql_rules_url",
                    e.to_string().trim()
                ))
            })?;
            *guard = Some(conn);
        }
        let conn = guard.as_mut().expect("connected above");
        // Whatever the query says, the session stays read-only: the wrapper makes it one
        // statement, the transaction is READ ONLY, and the login can switch to no other role.
        let sql = format!(
            "SELECT to_jsonb(q) AS row FROM ({}\n) q LIMIT {}",
            query.trim().trim_end_matches(';'),
            max_rows + 1
        );
        let ms = timeout.as_millis();
        // Always rolled back: a read-only transaction still allows a few writes (large
        // objects), and nothing a rule runs may last.
        let result: Result<Vec<J>, diesel::result::Error> = async {
            conn.batch_execute(&format!(
                "BEGIN READ ONLY; SET LOCAL statement_timeout = {ms}"
            ))
            .await?;
            diesel::sql_query(&sql).load(conn).await
        }
        .await;
        let rolled_back = conn.batch_execute("ROLLBACK").await.is_ok();
        if !rolled_back {
            *guard = None;
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                return Err(StoreError::Invalid(format!(
                    "the query failed: {}",
                    e.to_string().trim()
                )));
            }
        };
        if rows.len() > max_rows {
            return Err(StoreError::Invalid(format!(
                "the query returns more than {max_rows} rows"
            )));
        }
        rows.into_iter().map(|j| sql_row(j.row)).collect()
    }

    pub(super) async fn lead(&self, task: &str) -> Result<bool, StoreError> {
        let mut leader = self.leader.lock().await;
        let (conn, held) = &mut *leader;
        if let Some(c) = conn.as_mut()
            && c.batch_execute("SELECT 1").await.is_err()
        {
            // The session died, and its locks with it.
            *conn = None;
            held.clear();
        }
        if conn.is_none() {
            *conn = Some(
                AsyncPgConnection::establish(&self.url)
                    .await
                    .map_err(|e| StoreError::unavailable(e.to_string()))?,
            );
            held.clear();
        }
        if held.contains(task) {
            return Ok(true);
        }
        #[derive(QueryableByName)]
        struct Got {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            got: bool,
        }
        let c = conn.as_mut().expect("connected above");
        let got: Got = diesel::sql_query(
            "SELECT pg_try_advisory_lock(hashtext('pganalytics:' || $1)::int8) AS got",
        )
        .bind::<Text, _>(task)
        .get_result(c)
        .await
        .map_err(|e| store_error(e, "leader lock"))?;
        if got.got {
            held.insert(task.to_owned());
        }
        Ok(got.got)
    }
}

#[derive(QueryableByName)]
struct LastOrNull {
    #[diesel(sql_type = BigInt)]
    server_id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    time: Option<OffsetDateTime>,
}

/// A JSON row of an SQL rule: `value` a number, `server_id` an integer, the rest labels.
fn sql_row(row: Value) -> Result<SqlRow, StoreError> {
    let Value::Object(map) = row else {
        return Err(StoreError::Invalid("the query returned a non-row".into()));
    };
    if !map.contains_key("value") {
        return Err(StoreError::Invalid(
            "the query must return a numeric column named `value`".into(),
        ));
    }
    let mut out = SqlRow {
        server_id: None,
        labels: BTreeMap::new(),
        value: None,
    };
    for (k, v) in map {
        match (k.as_str(), v) {
            ("value", Value::Number(n)) => out.value = n.as_f64(),
            ("value", Value::Null) => {}
            ("value", other) => {
                return Err(StoreError::Invalid(format!(
                    "`value` must be a number, not {other}"
                )));
            }
            ("server_id", Value::Number(n)) => out.server_id = n.as_i64(),
            ("server_id", Value::Null) => {}
            (_, Value::Null) => {}
            (k, Value::String(s)) => {
                out.labels.insert(k.to_owned(), s);
            }
            (k, other) => {
                out.labels.insert(k.to_owned(), other.to_string());
            }
        }
    }
    Ok(out)
}

/// The tasks this process leads, on the session holding their advisory locks.
pub(super) type LeaderState = (Option<AsyncPgConnection>, BTreeSet<String>);
