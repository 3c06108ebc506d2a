//! Metric tables on PostgreSQL: exactly-once ingest, daily partitions, queries, retention.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use pganalytics_domain::batch::ValidatedBatch;
use pganalytics_domain::catalog::{self, FAMILIES, FamilySpec};
use pganalytics_domain::collector::{CollectorId, InstanceName, MonitoredServer};
use pganalytics_domain::rates::Point;
use pganalytics_domain::rollup::{RetentionPolicy, Tier, day_start};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    IngestOutcome, MaintenanceReport, MetricStore, RawSeries, SeriesQuery,
};
use std::collections::{BTreeMap, BTreeSet};
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use super::schema::{ingested_batches, servers};
use super::{PgStore, store_error};

/// Serialises partition DDL between server processes sharing a database.
const PARTITION_LOCK_KEY: i64 = 0x7067_616e_6c79_7431; // "pganlyt1"

/// How many days of partitions maintenance keeps ready ahead of now.
const DAYS_AHEAD: i64 = 2;

/// A partition: its tier, family and first day.
pub(crate) type PartitionKey = (Tier, &'static str, Date);

fn partition_name(family: &str, day: Date) -> String {
    format!(
        "{family}_p{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn parse_partition_day(family: &str, name: &str) -> Option<Date> {
    let digits = name.strip_prefix(family)?.strip_prefix("_p")?;
    if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year = digits[0..4].parse().ok()?;
    let month = time::Month::try_from(digits[4..6].parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, digits[6..8].parse().ok()?).ok()
}

/// The daily partitions a batch writes to. Rows of a block nearly always share one time, so
/// runs of the same day are skipped before touching the set (this runs on every push).
fn partition_days(batch: &ValidatedBatch) -> BTreeSet<PartitionKey> {
    let mut days = BTreeSet::new();
    for block in &batch.blocks {
        let mut last = None;
        for t in &block.time {
            let day = utc_day(*t);
            if last != Some(day) {
                days.insert((Tier::Raw, block.family.name, day));
                last = Some(day);
            }
        }
    }
    days
}

fn utc_day(t: OffsetDateTime) -> Date {
    t.to_offset(UtcOffset::UTC).date()
}

impl PgStore {
    /// Creates any missing partitions for `needed`, under an advisory lock so that
    /// concurrent creators (other requests, other server processes) do not collide.
    async fn ingest_group_of(
        &self,
        batches: &[&ValidatedBatch],
        now: OffsetDateTime,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        let days = batches.iter().flat_map(|b| partition_days(b)).collect();
        if let Err(e) = self.ensure_partitions(days).await {
            return batches.iter().map(|_| Err(e.share())).collect();
        }
        super::ingest::ingest_group(&self.ingest_pool, batches, now).await
    }

    pub(crate) async fn ensure_partitions(
        &self,
        needed: BTreeSet<PartitionKey>,
    ) -> Result<u32, StoreError> {
        let missing: Vec<_> = {
            let known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            needed.into_iter().filter(|k| !known.contains(k)).collect()
        };
        if missing.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let created = conn
            .transaction::<u32, diesel::result::Error, _>(async |conn| {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(PARTITION_LOCK_KEY)
                    .execute(conn)
                    .await?;
                let mut created = 0;
                for (tier, family, day) in &missing {
                    let exists: Vec<PartitionRow> = diesel::sql_query(
                        "SELECT relname::text AS relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = $1 AND c.relname = $2",
                    )
                    .bind::<Text, _>(tier.schema())
                    .bind::<Text, _>(partition_name(family, *day))
                    .load(conn)
                    .await?;
                    if !exists.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "CREATE TABLE {schema}.{part} PARTITION OF {schema}.{family} \
                         FOR VALUES FROM ('{day} 00:00:00+00') TO ('{end} 00:00:00+00')",
                        schema = tier.schema(),
                        part = partition_name(family, *day),
                        end = tier.partition_end(*day),
                    );
                    diesel::sql_query(sql).execute(conn).await?;
                    created += 1;
                }
                Ok(created)
            })
            .await
            .map_err(|e| store_error(e, "partition"))?;
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(missing);
        Ok(created)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = servers, check_for_backend(diesel::pg::Pg))]
struct ServerRow {
    id: i64,
    collector_id: Uuid,
    instance: String,
    first_seen: OffsetDateTime,
    last_seen: OffsetDateTime,
}

impl ServerRow {
    fn into_domain(self) -> Result<MonitoredServer, StoreError> {
        Ok(MonitoredServer {
            id: self.id,
            collector_id: CollectorId::from_uuid(self.collector_id),
            instance: InstanceName::parse(&self.instance).map_err(StoreError::unknown)?,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        })
    }
}

#[derive(QueryableByName)]
struct SeriesRow {
    #[diesel(sql_type = Timestamptz)]
    time: OffsetDateTime,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    labels: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    vals: Vec<Option<f64>>,
}

#[derive(QueryableByName)]
struct PartitionRow {
    #[diesel(sql_type = Text)]
    relname: String,
}

#[async_trait]
impl MetricStore for PgStore {
    async fn ingest(
        &self,
        batch: &ValidatedBatch,
        now: OffsetDateTime,
    ) -> Result<IngestOutcome, StoreError> {
        self.ingest_group_of(&[batch], now)
            .await
            .pop()
            .unwrap_or_else(|| Err(StoreError::unknown("no outcome for the batch")))
    }

    async fn ingest_group(
        &self,
        batches: &[ValidatedBatch],
        now: OffsetDateTime,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        self.ingest_group_of(&batches.iter().collect::<Vec<_>>(), now)
            .await
    }

    async fn list_servers(&self) -> Result<Vec<MonitoredServer>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ServerRow> = servers::table
            .order(servers::id)
            .select(ServerRow::as_select())
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "server"))?;
        rows.into_iter().map(ServerRow::into_domain).collect()
    }

    async fn get_server(&self, id: i64) -> Result<MonitoredServer, StoreError> {
        let mut conn = self.conn().await?;
        let row: ServerRow = servers::table
            .find(id)
            .select(ServerRow::as_select())
            .first(&mut conn)
            .await
            .map_err(|e| store_error(e, "server"))?;
        row.into_domain()
    }

    async fn query_series(&self, q: &SeriesQuery) -> Result<Vec<RawSeries>, StoreError> {
        let labels: Vec<&str> = q.family.labels().map(|c| c.name).collect();
        let label_array = if labels.is_empty() {
            "ARRAY[]::text[]".to_owned()
        } else {
            format!("ARRAY[{}]::text[]", labels.join(", "))
        };
        let vals = q
            .columns
            .iter()
            .map(|c| format!("{}::float8", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let order = labels.iter().map(|l| format!("{l}, ")).collect::<String>();
        let sql = format!(
            "SELECT time, {label_array} AS labels, ARRAY[{vals}]::float8[] AS vals FROM metrics.{family} \
             WHERE server_id = $1 AND time >= $2 AND time < $3{filters} ORDER BY {order}time LIMIT $4",
            family = q.family.name,
            filters = equal_filters(&q.filters, 5),
        );
        let limit = i64::try_from(q.max_rows).unwrap_or(i64::MAX - 1) + 1;
        let mut conn = self.conn().await?;
        let mut query = diesel::sql_query(sql)
            .into_boxed()
            .bind::<BigInt, _>(q.server_id)
            .bind::<Timestamptz, _>(q.from)
            .bind::<Timestamptz, _>(q.to)
            .bind::<BigInt, _>(limit);
        for (_, value) in &q.filters {
            query = query.bind::<Text, _>(value.clone());
        }
        let rows: Vec<SeriesRow> = query
            .load(&mut conn)
            .await
            .map_err(|e| store_error(e, "metric"))?;
        if rows.len() > q.max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(group_series(q, &labels, rows))
    }

    async fn maintain(
        &self,
        now: OffsetDateTime,
        policy: &RetentionPolicy,
    ) -> Result<MaintenanceReport, StoreError> {
        let mut ahead = BTreeSet::new();
        for f in FAMILIES {
            for d in 0..=DAYS_AHEAD {
                let t = now + Duration::days(d);
                for tier in Tier::ALL {
                    ahead.insert((tier, f.name, tier.partition_of(t)));
                }
            }
        }
        let partitions_created = self.ensure_partitions(ahead).await?;
        let mut partitions_dropped = 0;
        for family in FAMILIES {
            let retention = policy.retention(family);
            for tier in Tier::ALL {
                partitions_dropped += self
                    .drop_expired(family, tier, retention.horizon(tier, now))
                    .await?;
            }
        }
        let keep = Duration::days(i64::from(catalog::max_retention_days()) + 1);
        let mut conn = self.conn().await?;
        diesel::delete(
            ingested_batches::table.filter(ingested_batches::received_at.lt(now - keep)),
        )
        .execute(&mut conn)
        .await
        .map_err(|e| store_error(e, "batch id"))?;
        Ok(MaintenanceReport {
            partitions_created,
            partitions_dropped,
            ..MaintenanceReport::default()
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| store_error(e, "database"))?;
        Ok(())
    }

    async fn read_rows(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::Row>, StoreError> {
        self.window_rows(need, max_rows).await
    }

    async fn read_latest(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::Row>, StoreError> {
        self.latest_rows(need, max_rows).await
    }

    async fn read_folds(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        exprs: &[pganalytics_domain::alerts::fold::FoldExpr],
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::fold::FoldedRow>, StoreError> {
        self.window_folds(need, exprs, max_rows).await
    }

    async fn last_seen(
        &self,
        family: &'static FamilySpec,
        since: OffsetDateTime,
        servers: &[i64],
    ) -> Result<BTreeMap<i64, OffsetDateTime>, StoreError> {
        self.family_last_seen(family, since, servers).await
    }

    async fn run_rule_sql(
        &self,
        query: &str,
        timeout: std::time::Duration,
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::SqlRow>, StoreError> {
        self.rule_sql(query, timeout, max_rows).await
    }
}

#[async_trait]
impl pganalytics_ports::store::LeaderLease for PgStore {
    async fn try_lead(&self, task: &str) -> Result<bool, StoreError> {
        self.lead(task).await
    }
}

impl PgStore {
    /// Drops the family's partitions of `tier` whose every row is older than `cutoff`.
    async fn drop_expired(
        &self,
        family: &'static FamilySpec,
        tier: Tier,
        cutoff: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let mut conn = self.conn().await?;
        let parts: Vec<PartitionRow> = diesel::sql_query(
            "SELECT c.relname::text AS relname FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = $2",
        )
        .bind::<Text, _>(tier.schema())
        .bind::<Text, _>(family.name)
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "partition"))?;
        let mut dropped = 0;
        for part in parts {
            let Some(day) = parse_partition_day(family.name, &part.relname) else {
                continue;
            };
            if day_start(tier.partition_end(day)) <= cutoff {
                diesel::sql_query(format!(
                    "DROP TABLE IF EXISTS {}.{}",
                    tier.schema(),
                    part.relname
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| store_error(e, "partition"))?;
                self.partitions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&(tier, family.name, day));
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

/// `AND <label> = $n` for each filter, numbered from `first` (label names come from the
/// catalog, never from a request).
pub(crate) fn equal_filters(filters: &[(&'static str, String)], first: usize) -> String {
    filters
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!(" AND {column} = ${}", first + i))
        .collect()
}

/// Rows come ordered by labels then time; each label set becomes one series per column.
fn group_series(q: &SeriesQuery, labels: &[&str], rows: Vec<SeriesRow>) -> Vec<RawSeries> {
    let mut out: Vec<RawSeries> = Vec::new();
    for (j, col) in q.columns.iter().enumerate() {
        let start = out.len();
        for row in &rows {
            let Some(value) = row.vals.get(j).copied().flatten() else {
                continue;
            };
            let point = Point {
                time: row.time,
                value,
            };
            let continues = out.len() > start;
            match out.last_mut() {
                Some(last) if continues && labels_equal(&last.labels, labels, &row.labels) => {
                    last.points.push(point)
                }
                _ => {
                    let map: BTreeMap<String, Option<String>> = labels
                        .iter()
                        .map(|l| l.to_string())
                        .zip(row.labels.iter().cloned())
                        .collect();
                    out.push(RawSeries {
                        column: col.name,
                        labels: map,
                        points: vec![point],
                    });
                }
            }
        }
    }
    out
}

fn labels_equal(
    map: &BTreeMap<String, Option<String>>,
    names: &[&str],
    values: &[Option<String>],
) -> bool {
    names
        .iter()
        .zip(values)
        .all(|(n, v)| map.get(*n) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip_to_their_day() {
        let day = Date::from_calendar_date(2026, time::Month::March, 7).unwrap();
        assert_eq!(partition_name("pg_table", day), "pg_table_p20260307");
        assert_eq!(
            parse_partition_day("pg_table", "pg_table_p20260307"),
            Some(day)
        );
        assert_eq!(parse_partition_day("pg_table", "pg_table_pxx"), None);
        assert_eq!(
            parse_partition_day("pg_table", "pg_tablespace_p20260307"),
            None
        );
    }
}
