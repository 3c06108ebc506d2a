//! Storage tiers in memory: rollups by the domain's reference computation, with the same
//! watermarks, late hours, partition-granular retention and searches as PostgreSQL.

use async_trait::async_trait;
use pganalytics_domain::audit::AuditEntry;
use pganalytics_domain::catalog::{self, ColumnKind, FAMILIES, FamilySpec};
use pganalytics_domain::rollup::{
    self, Bucket, GRACE, LOOKBACK, Reading, Retention, RetentionPolicy, RolledPoint, Scalar, Tier,
    day_start,
};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    BucketQuery, LogCount, LogEventRow, LogSearch, MaintenanceReport, RolledSeries, RollupReport,
    STATEMENT_FIGURES, SeriesQuery, StatementTotals, StatementsQuery, TierStore, Watermark,
    rank_statements,
};
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};

use super::{MemoryStore, Row, State};

#[derive(Debug, Default)]
pub(super) struct Tiers {
    /// Rollup rows by (tier, family).
    buckets: BTreeMap<(Tier, &'static str), Vec<Bucket>>,
    marks: BTreeMap<(&'static str, Tier), OffsetDateTime>,
    /// Hours that received rows after they ended: (server, family, hour).
    pub(super) late: BTreeSet<(i64, &'static str, OffsetDateTime)>,
    retention: BTreeMap<String, Retention>,
    /// The last row id given.
    pub(super) next_id: i64,
}

/// A stored row as the domain's rollup reads it.
fn reading(family: &'static FamilySpec, r: &Row) -> Reading {
    Reading {
        server_id: r.server_id,
        time: r.time,
        labels: family
            .labels()
            .map(|l| r.labels.get(l.name).cloned().flatten())
            .collect(),
        values: family
            .columns
            .iter()
            .filter(|c| c.kind != ColumnKind::Label)
            .map(|c| match c.kind {
                ColumnKind::Text => r.texts.get(c.name).cloned().map(Scalar::Text),
                ColumnKind::Timestamp => r.times.get(c.name).copied().map(Scalar::Time),
                _ => r.values.get(c.name).copied().map(Scalar::Num),
            })
            .collect(),
    }
}

fn partition_expired(tier: Tier, t: OffsetDateTime, cutoff: OffsetDateTime) -> bool {
    day_start(tier.partition_end(tier.partition_of(t))) <= cutoff
}

impl State {
    /// Drops what PostgreSQL would drop: whole partitions past each tier's retention.
    pub(super) fn drop_expired(
        &mut self,
        now: OffsetDateTime,
        policy: &RetentionPolicy,
    ) -> MaintenanceReport {
        let mut report = MaintenanceReport::default();
        let horizon = |family: &str, tier: Tier| {
            catalog::family(family).map(|f| policy.retention(f).horizon(tier, now))
        };
        let mut dropped: BTreeSet<(Tier, &'static str, time::Date)> = BTreeSet::new();
        self.rows.retain(|r| {
            let expired = horizon(r.family, Tier::Raw)
                .is_some_and(|h| partition_expired(Tier::Raw, r.time, h));
            if expired {
                dropped.insert((Tier::Raw, r.family, Tier::Raw.partition_of(r.time)));
            }
            !expired
        });
        for ((tier, family), buckets) in &mut self.tiers.buckets {
            buckets.retain(|b| {
                let expired =
                    horizon(family, *tier).is_some_and(|h| partition_expired(*tier, b.start, h));
                if expired {
                    dropped.insert((*tier, family, tier.partition_of(b.start)));
                }
                !expired
            });
        }
        report.partitions_dropped = u32::try_from(dropped.len()).unwrap_or(u32::MAX);
        report
    }

    /// The hourly buckets of `hour` (of one server, or all), from the raw rows.
    fn hour_buckets(
        &self,
        family: &'static FamilySpec,
        hour: OffsetDateTime,
        server: Option<i64>,
    ) -> Vec<Bucket> {
        let readings: Vec<Reading> = self
            .rows
            .iter()
            .filter(|r| {
                r.family == family.name
                    && r.time >= hour - LOOKBACK
                    && r.time < hour + Duration::HOUR
                    && server.is_none_or(|s| s == r.server_id)
            })
            .map(|r| reading(family, r))
            .collect();
        rollup::roll_up(family, &readings)
            .into_iter()
            .filter(|b| b.start == hour)
            .collect()
    }

    fn day_buckets(
        &self,
        family: &'static FamilySpec,
        day: OffsetDateTime,
        server: Option<i64>,
    ) -> Vec<Bucket> {
        let hours: Vec<Bucket> = self
            .tiers
            .buckets
            .get(&(Tier::Hourly, family.name))
            .into_iter()
            .flatten()
            .filter(|b| {
                b.start >= day
                    && b.start < day + Duration::DAY
                    && server.is_none_or(|s| s == b.server_id)
            })
            .cloned()
            .collect();
        rollup::merge(family, Tier::Daily, &hours)
    }

    /// Replaces one bucket of `tier` (of one server, or all); returns (buckets, samples).
    fn replace(
        &mut self,
        family: &'static FamilySpec,
        tier: Tier,
        start: OffsetDateTime,
        server: Option<i64>,
    ) -> (u64, u64) {
        let fresh = if tier == Tier::Hourly {
            self.hour_buckets(family, start, server)
        } else {
            self.day_buckets(family, start, server)
        };
        let written = (
            fresh.len() as u64,
            fresh.iter().map(|b| b.samples.max(0) as u64).sum(),
        );
        let stored = self.tiers.buckets.entry((tier, family.name)).or_default();
        stored.retain(|b| !(b.start == start && server.is_none_or(|s| s == b.server_id)));
        stored.extend(fresh);
        written
    }

    fn first_hour(&self, family: &'static FamilySpec, target: OffsetDateTime) -> OffsetDateTime {
        self.rows
            .iter()
            .filter(|r| r.family == family.name)
            .map(|r| r.time)
            .min()
            .map_or(target, |t| Tier::Hourly.bucket_start(t).min(target))
    }

    fn roll_up(&mut self, now: OffsetDateTime, max_hours: u32) -> RollupReport {
        let target = Tier::Hourly.bucket_start(now - GRACE);
        let mut report = RollupReport::default();
        let mut oldest = now;
        for family in FAMILIES {
            let mut hourly = match self.tiers.marks.get(&(family.name, Tier::Hourly)) {
                Some(t) => *t,
                None => self.first_hour(family, target),
            };
            // Late hours first, against the watermark as it stands (as PostgreSQL does).
            let marks: Vec<_> = self
                .tiers
                .late
                .iter()
                .filter(|(_, f, _)| *f == family.name)
                .copied()
                .collect();
            let mut late_days = BTreeSet::new();
            for mark in marks {
                self.tiers.late.remove(&mark);
                let (server, _, hour) = mark;
                for h in [hour, hour + Duration::HOUR] {
                    if h < hourly {
                        let (buckets, rows) = self.replace(family, Tier::Hourly, h, Some(server));
                        report.buckets_recomputed += 1;
                        report.buckets_written += buckets;
                        report.rows_rolled_up += rows;
                        late_days.insert((server, Tier::Daily.bucket_start(h)));
                    }
                }
            }
            let mut n = 0;
            while hourly < target && n < max_hours {
                let (buckets, rows) = self.replace(family, Tier::Hourly, hourly, None);
                report.hours_rolled += 1;
                report.buckets_written += buckets;
                report.rows_rolled_up += rows;
                hourly += Duration::HOUR;
                n += 1;
            }
            let mut daily = match self.tiers.marks.get(&(family.name, Tier::Daily)) {
                Some(t) => *t,
                None => Tier::Daily.bucket_start(self.first_hour(family, hourly)),
            };
            while daily < Tier::Daily.bucket_start(hourly) {
                let (buckets, _) = self.replace(family, Tier::Daily, daily, None);
                report.days_rolled += 1;
                report.buckets_written += buckets;
                daily += Duration::DAY;
            }
            for (server, day) in late_days.into_iter().filter(|(_, d)| *d < daily) {
                let (buckets, _) = self.replace(family, Tier::Daily, day, Some(server));
                report.buckets_recomputed += 1;
                report.buckets_written += buckets;
            }
            self.tiers.marks.insert((family.name, Tier::Hourly), hourly);
            self.tiers.marks.insert((family.name, Tier::Daily), daily);
            oldest = oldest.min(hourly);
        }
        report.lag_seconds = (now - oldest).whole_seconds().max(0);
        report
    }

    fn buckets(&self, tier: Tier, family: &str) -> impl Iterator<Item = &Bucket> {
        self.tiers
            .buckets
            .iter()
            .filter(move |((t, f), _)| *t == tier && *f == family)
            .flat_map(|(_, b)| b)
    }

    /// The latest text of each (database, query id) of the server, from any tier.
    fn statement_texts(&self, server_id: i64) -> BTreeMap<(Option<String>, String), String> {
        let mut out: BTreeMap<(Option<String>, String), (Tier, OffsetDateTime, String)> =
            BTreeMap::new();
        let mut offer = |key: (Option<String>, Option<String>), tier: Tier, t, text: String| {
            let Some(id) = key.1 else { return };
            let e = out.entry((key.0, id)).or_insert((tier, t, text.clone()));
            // Raw rows first, then hourly, then daily; the latest within a tier.
            if (tier, std::cmp::Reverse(t)) < (e.0, std::cmp::Reverse(e.1)) {
                *e = (tier, t, text);
            }
        };
        for r in self
            .rows
            .iter()
            .filter(|r| r.family == "pg_statement_text" && r.server_id == server_id)
        {
            if let Some(text) = r.texts.get("query") {
                let key = (
                    r.labels.get("datname").cloned().flatten(),
                    r.labels.get("queryid").cloned().flatten(),
                );
                offer(key, Tier::Raw, r.time, text.clone());
            }
        }
        for tier in Tier::ROLLED {
            for b in self
                .buckets(tier, "pg_statement_text")
                .filter(|b| b.server_id == server_id)
            {
                if let Some(Some(Scalar::Text(text))) = b.values.first() {
                    let key = (b.labels[0].clone(), b.labels.get(1).cloned().flatten());
                    offer(key, tier, b.start, text.clone());
                }
            }
        }
        out.into_iter().map(|(k, (_, _, text))| (k, text)).collect()
    }
}

/// Whether every word of `query` is a word of `message` (PostgreSQL's `simple` text search:
/// lower case, split on anything that is not a letter or digit).
fn text_matches(message: &str, query: &str) -> bool {
    let words = |s: &str| -> BTreeSet<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let have = words(message);
    words(query).iter().all(|w| have.contains(w))
}

fn event_matches(q: &LogSearch, r: &Row) -> bool {
    let label = |name: &str| r.labels.get(name).cloned().flatten();
    let any = |values: &[String], name: &str| {
        values.is_empty() || label(name).is_some_and(|v| values.contains(&v))
    };
    r.family == "pg_log_event"
        && q.from.is_none_or(|f| r.time >= f)
        && q.to.is_none_or(|t| r.time < t)
        && (q.servers.is_empty() || q.servers.contains(&r.server_id))
        && any(&q.severities, "severity")
        && any(&q.categories, "category")
        && any(&q.kinds, "kind")
        && any(&q.databases, "datname")
        && any(&q.users, "username")
        && any(&q.applications, "application_name")
        && (q.sqlstates.is_empty()
            || label("sqlstate").is_some_and(|s| {
                q.sqlstates
                    .iter()
                    .any(|f| *f == s || (f.len() == 2 && s.get(..2) == Some(f.as_str())))
            }))
        && q.text
            .as_deref()
            .is_none_or(|t| r.texts.get("message").is_some_and(|m| text_matches(m, t)))
        && q.before.is_none_or(|b| (r.time, r.id) < b)
}

fn event_row(r: &Row) -> LogEventRow {
    let label = |name: &str| r.labels.get(name).cloned().flatten();
    LogEventRow {
        event_id: r.id,
        time: r.time,
        server_id: r.server_id,
        severity: label("severity"),
        category: label("category"),
        kind: label("kind"),
        sqlstate: label("sqlstate"),
        datname: label("datname"),
        username: label("username"),
        application_name: label("application_name"),
        pid: r.values.get("pid").copied(),
        duration_ms: r.values.get("duration_ms").copied(),
        message: r.texts.get("message").cloned(),
        template: label("template"),
        fields: pganalytics_domain::logs::FIELD_COLUMNS
            .iter()
            .filter_map(|c| {
                let v = match r.values.get(*c) {
                    Some(n) => serde_json::json!(n),
                    None => serde_json::json!(r.texts.get(*c)?),
                };
                Some(((*c).to_owned(), v))
            })
            .collect(),
    }
}

/// Whether a series' labels pass the query's filters.
fn labels_match(q: &SeriesQuery, names: &[&str], labels: &[Option<String>]) -> bool {
    q.filters.iter().all(|(label, value)| {
        names
            .iter()
            .position(|l| l == label)
            .and_then(|i| labels[i].as_deref())
            == Some(value.as_str())
    })
}

/// The query's columns of `rows`: one series per column and label set, in time order.
fn rolled_series(q: &SeriesQuery, labels: &[&str], mut rows: Vec<&Bucket>) -> Vec<RolledSeries> {
    let cols = rollup::columns(q.family);
    rows.sort_by(|a, b| (&a.labels, a.start).cmp(&(&b.labels, b.start)));
    let value = |b: &Bucket, name: String| {
        cols.iter()
            .position(|c| c.name() == name)
            .and_then(|k| b.values[k].as_ref())
            .and_then(Scalar::num)
    };
    let mut out: Vec<RolledSeries> = Vec::new();
    for col in &q.columns {
        let start = out.len();
        for b in &rows {
            let pair = if col.kind == ColumnKind::Counter {
                value(b, format!("{}_increase", col.name)).map(|n| (n, b.seconds))
            } else {
                value(b, format!("{}_sum", col.name)).zip(value(b, format!("{}_count", col.name)))
            };
            let Some((numerator, denominator)) = pair else {
                continue;
            };
            let map: BTreeMap<String, Option<String>> = labels
                .iter()
                .map(|l| l.to_string())
                .zip(b.labels.iter().cloned())
                .collect();
            let point = RolledPoint {
                time: b.start,
                numerator,
                denominator,
            };
            RolledSeries::push(&mut out, start, col.name, map, point);
        }
    }
    out
}

fn too_many() -> StoreError {
    StoreError::Conflict {
        entity: "query result",
    }
}

#[async_trait]
impl TierStore for MemoryStore {
    async fn roll_up(
        &self,
        now: OffsetDateTime,
        max_hours: u32,
    ) -> Result<RollupReport, StoreError> {
        Ok(self.lock().roll_up(now, max_hours))
    }

    async fn rollup_watermarks(&self) -> Result<Vec<Watermark>, StoreError> {
        Ok(self
            .lock()
            .tiers
            .marks
            .iter()
            .map(|((family, tier), t)| Watermark {
                family,
                tier: *tier,
                done_until: *t,
            })
            .collect())
    }

    async fn read_buckets(&self, q: &BucketQuery) -> Result<Vec<Bucket>, StoreError> {
        let s = self.lock();
        let mut out: Vec<Bucket> = s
            .buckets(q.tier, q.family.name)
            .filter(|b| b.start >= q.from && b.start < q.to)
            .cloned()
            .collect();
        if out.len() > q.max_rows {
            return Err(too_many());
        }
        out.sort_by_key(|b| (b.server_id, b.start));
        Ok(out)
    }

    async fn query_rolled(
        &self,
        q: &SeriesQuery,
        tier: Tier,
    ) -> Result<Vec<RolledSeries>, StoreError> {
        let s = self.lock();
        let labels: Vec<&str> = q.family.labels().map(|l| l.name).collect();
        let rows: Vec<&Bucket> = s
            .buckets(tier, q.family.name)
            .filter(|b| {
                b.server_id == q.server_id
                    && b.start >= q.from
                    && b.start < q.to
                    && labels_match(q, &labels, &b.labels)
            })
            .collect();
        if rows.len() > q.max_rows {
            return Err(too_many());
        }
        Ok(rolled_series(q, &labels, rows))
    }

    async fn query_steps(
        &self,
        q: &SeriesQuery,
        origin: OffsetDateTime,
        step: Duration,
    ) -> Result<Vec<RolledSeries>, StoreError> {
        let s = self.lock();
        let labels: Vec<&str> = q.family.labels().map(|l| l.name).collect();
        // Counters need each reading's predecessor; gauges only their range.
        let since = if q.columns.iter().any(|c| c.kind == ColumnKind::Counter) {
            q.from - LOOKBACK
        } else {
            q.from
        };
        let readings: Vec<Reading> = s
            .rows
            .iter()
            .filter(|r| {
                r.family == q.family.name
                    && r.server_id == q.server_id
                    && r.time >= since
                    && r.time < q.to
            })
            .map(|r| reading(q.family, r))
            .filter(|r| labels_match(q, &labels, &r.labels))
            .collect();
        if readings.len() > q.max_rows {
            return Err(too_many());
        }
        let buckets = rollup::roll_up_in(q.family, &readings, |t| {
            (t >= q.from).then(|| rollup::step_start(origin, step, t))
        });
        Ok(rolled_series(q, &labels, buckets.iter().collect()))
    }

    async fn top_statements(
        &self,
        q: &StatementsQuery,
    ) -> Result<Vec<StatementTotals>, StoreError> {
        let s = self.lock();
        type Key = (String, Option<String>, Option<String>);
        let mut sums: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
        let wanted =
            |queryid: &Option<String>, datname: &Option<String>, username: &Option<String>| {
                [
                    (&q.queryid, queryid),
                    (&q.datname, datname),
                    (&q.username, username),
                ]
                .iter()
                .all(|(filter, v)| filter.is_none() || filter.as_ref() == v.as_ref())
            };
        if q.tier == Tier::Raw {
            for r in s.rows.iter().filter(|r| {
                r.family == "pg_statement"
                    && r.server_id == q.server_id
                    && r.time >= q.from
                    && r.time < q.to
            }) {
                let l = |n: &str| r.labels.get(n).cloned().flatten();
                let (id, db, user) = (l("queryid"), l("datname"), l("username"));
                if !wanted(&id, &db, &user) {
                    continue;
                }
                let e = sums
                    .entry((id.unwrap_or_default(), db, user))
                    .or_insert_with(|| vec![0.0; STATEMENT_FIGURES.len()]);
                for (k, c) in STATEMENT_FIGURES.iter().enumerate() {
                    e[k] += r.values.get(c).copied().unwrap_or(0.0);
                }
            }
        } else {
            let family = catalog::family("pg_statement")
                .ok_or_else(|| StoreError::Invalid("no pg_statement".into()))?;
            let cols = rollup::columns(family);
            for b in s
                .buckets(q.tier, "pg_statement")
                .filter(|b| b.server_id == q.server_id && b.start >= q.from && b.start < q.to)
            {
                // Labels in catalog order: datname, username, queryid.
                let (db, user, id) = (
                    b.labels[0].clone(),
                    b.labels[1].clone(),
                    b.labels[2].clone(),
                );
                if !wanted(&id, &db, &user) {
                    continue;
                }
                let e = sums
                    .entry((id.unwrap_or_default(), db, user))
                    .or_insert_with(|| vec![0.0; STATEMENT_FIGURES.len()]);
                for (k, c) in STATEMENT_FIGURES.iter().enumerate() {
                    let name = format!("{c}_sum");
                    e[k] += cols
                        .iter()
                        .position(|rc| rc.name() == name)
                        .and_then(|i| b.values[i].as_ref())
                        .and_then(Scalar::num)
                        .unwrap_or(0.0);
                }
            }
        }
        let texts = s.statement_texts(q.server_id);
        let all = sums
            .into_iter()
            .map(|((id, db, user), v)| {
                let mut t = StatementTotals::from_sums(id, db, user, &v);
                t.query = texts.get(&(t.datname.clone(), t.queryid.clone())).cloned();
                t
            })
            .collect();
        Ok(rank_statements(all, q.order, q.limit))
    }

    async fn search_log_events(&self, q: &LogSearch) -> Result<Vec<LogEventRow>, StoreError> {
        let s = self.lock();
        let mut rows: Vec<&Row> = s.rows.iter().filter(|r| event_matches(q, r)).collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.time, r.id)));
        Ok(rows.into_iter().take(q.limit).map(event_row).collect())
    }

    async fn count_log_events(
        &self,
        q: &LogSearch,
        step: Duration,
    ) -> Result<Vec<LogCount>, StoreError> {
        let s = self.lock();
        let seconds = step.whole_seconds().max(1);
        let mut counts: BTreeMap<(i64, Option<String>), i64> = BTreeMap::new();
        for r in s.rows.iter().filter(|r| event_matches(q, r)) {
            let bucket = r.time.unix_timestamp().div_euclid(seconds) * seconds;
            *counts
                .entry((bucket, r.labels.get("kind").cloned().flatten()))
                .or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((bucket, kind), count)| LogCount {
                bucket: OffsetDateTime::from_unix_timestamp(bucket)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                kind,
                count,
            })
            .collect())
    }

    async fn compress_partitions(&self, _before: OffsetDateTime) -> Result<u32, StoreError> {
        // Memory has no storage formats to choose from.
        Ok(0)
    }

    async fn stored_retention(&self) -> Result<BTreeMap<String, Retention>, StoreError> {
        Ok(self.lock().tiers.retention.clone())
    }

    async fn set_retention(
        &self,
        family: &'static str,
        retention: Option<Retention>,
        _now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        match retention {
            Some(r) => s.tiers.retention.insert(family.to_owned(), r),
            None => s.tiers.retention.remove(family),
        };
        s.audit(audit);
        Ok(())
    }
}
