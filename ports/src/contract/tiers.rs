//! Contract clauses of the storage tiers: rollups equal to the raw rows, retention by whole
//! partitions, top statements, log search.

use pganalytics_domain::batch::{self, BatchLimits, ValidatedBatch, ValidationContext};
use pganalytics_domain::catalog::{ColumnKind, FAMILIES, FamilySpec};
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::rollup::{
    self, Bucket, Reading, Retention, RetentionPolicy, Scalar, Tier, day_start,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{audit, now, registered};
use crate::store::{
    BucketQuery, IngestOutcome, LogSearch, SeriesQuery, StatementOrder, StatementsQuery, Stores,
    rank_statements,
};

/// One generated raw row: the instance it comes from, its time and its values in catalog
/// order (labels included).
#[derive(Debug, Clone)]
struct Gen {
    instance: &'static str,
    time: OffsetDateTime,
    values: Vec<Option<Value>>,
}

/// Readings of every column kind for series `k` at step `i`: counters climbing with a reset
/// at step 20, gauges, texts and timestamps, each missing once.
fn generate(
    family: &'static FamilySpec,
    k: usize,
    i: i64,
    t: OffsetDateTime,
) -> Vec<Option<Value>> {
    family
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| match c.kind {
            // Series 1 has no value for its first label: NULL labels group too.
            ColumnKind::Label if k == 1 && j == 0 => None,
            ColumnKind::Label => Some(json!(format!("{}-{k}", c.name))),
            ColumnKind::Counter if i == 5 => None,
            ColumnKind::Counter => {
                let v = if i >= 20 {
                    (i - 20) * 3
                } else {
                    1_000 * k as i64 + i * (7 + j as i64)
                };
                Some(json!(v))
            }
            ColumnKind::Gauge if i == 7 => None,
            ColumnKind::Gauge => Some(json!(((i * 3 + j as i64) % 17) as f64 + 0.25 * k as f64)),
            ColumnKind::Text if i == 9 => None,
            ColumnKind::Text => Some(json!(format!("{}#{i}", c.name))),
            ColumnKind::Timestamp => {
                Some(json!((t - Duration::minutes(i)).format(&Rfc3339).unwrap()))
            }
        })
        .collect()
}

fn batch_of(
    collector: CollectorId,
    rows: &[(&'static FamilySpec, Gen)],
    id: Uuid,
    now: OffsetDateTime,
) -> ValidatedBatch {
    let mut blocks: Vec<Value> = Vec::new();
    for (family, g) in rows {
        let columns: Vec<&str> = family.columns.iter().map(|c| c.name).collect();
        let mut row: Vec<Value> = vec![json!(g.time.format(&Rfc3339).unwrap())];
        row.extend(g.values.iter().map(|v| v.clone().unwrap_or(Value::Null)));
        let mut cols = vec!["time"];
        cols.extend(columns);
        blocks.push(json!({ "family": family.name, "instance": g.instance, "columns": cols, "rows": [row] }));
    }
    let body = json!({
        "version": 1, "batch_id": id, "collector_id": collector.as_uuid(), "agent_version": "test",
        "collected_at": now.format(&Rfc3339).unwrap(), "metrics": blocks,
    });
    let ctx = ValidationContext {
        collector_id: collector,
        now,
        limits: BatchLimits::default(),
    };
    batch::validate(batch::parse(body.to_string().as_bytes()).unwrap(), &ctx)
        .unwrap_or_else(|e| panic!("generated batch refused: {e}"))
}

fn reading(family: &'static FamilySpec, server_id: i64, g: &Gen) -> Reading {
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for (c, v) in family.columns.iter().zip(&g.values) {
        let v = v.as_ref();
        match c.kind {
            ColumnKind::Label => labels.push(v.and_then(Value::as_str).map(str::to_owned)),
            ColumnKind::Counter | ColumnKind::Gauge => {
                values.push(v.and_then(Value::as_f64).map(Scalar::Num))
            }
            ColumnKind::Text => {
                values.push(v.and_then(Value::as_str).map(|s| Scalar::Text(s.into())))
            }
            ColumnKind::Timestamp => values.push(
                v.and_then(Value::as_str)
                    .map(|s| Scalar::Time(OffsetDateTime::parse(s, &Rfc3339).unwrap())),
            ),
        }
    }
    Reading {
        server_id,
        time: g.time,
        labels,
        values,
    }
}

fn close(a: &Option<Scalar>, b: &Option<Scalar>) -> bool {
    match (a, b) {
        (Some(Scalar::Num(x)), Some(Scalar::Num(y))) => {
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn assert_buckets_equal(family: &str, tier: Tier, mut got: Vec<Bucket>, mut want: Vec<Bucket>) {
    let key = |b: &Bucket| (b.server_id, b.start, b.labels.clone());
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(
        got.iter().map(key).collect::<Vec<_>>(),
        want.iter().map(key).collect::<Vec<_>>(),
        "{family} {tier:?}: the buckets differ"
    );
    let cols = rollup::columns(pganalytics_domain::catalog::family(family).unwrap());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g.samples, w.samples,
            "{family} {tier:?} {} samples",
            g.start
        );
        assert!(
            (g.seconds - w.seconds).abs() < 1e-6,
            "{family} {tier:?} {} seconds {} vs {}",
            g.start,
            g.seconds,
            w.seconds
        );
        for (k, c) in cols.iter().enumerate() {
            assert!(
                close(&g.values[k], &w.values[k]),
                "{family} {tier:?} {} {:?} {}: stored {:?}, raw rows say {:?}",
                g.start,
                g.labels,
                c.name(),
                g.values[k],
                w.values[k]
            );
        }
    }
}

/// Every family over six hours across midnight, on two servers with two series each; the
/// rows of one server's second hour arrive late (after that hour was rolled up), one batch
/// is replayed, one series has a gap longer than the lookback. Every hourly and daily bucket
/// must equal the domain's computation over all the raw rows.
pub async fn rollups_equal_the_raw_rows_of_every_family_after_late_and_replayed_batches<
    S: Stores,
>(
    s: S,
) {
    let c = registered(&s).await;
    let midnight = day_start(Tier::Daily.bucket_start(now()).date()) - Duration::DAY;
    let base = midnight - Duration::hours(4);
    let mut on_time: BTreeMap<i64, Vec<(&'static FamilySpec, Gen)>> = BTreeMap::new();
    let mut late: Vec<(&'static FamilySpec, Gen)> = Vec::new();
    let mut all: Vec<(&'static FamilySpec, Gen)> = Vec::new();
    for family in FAMILIES {
        for (instance, offset) in [("main", 0), ("replica", 7)] {
            for k in 0..2 {
                for i in 0..36i64 {
                    // A gap of 70 minutes in one series: no delta across it.
                    if instance == "replica" && k == 0 && (18..25).contains(&i) {
                        continue;
                    }
                    let time =
                        base + Duration::minutes(10 * i) + Duration::seconds(offset + k as i64);
                    let g = Gen {
                        instance,
                        time,
                        values: generate(family, k, i, time),
                    };
                    all.push((family, g.clone()));
                    if instance == "main" && (6..12).contains(&i) {
                        late.push((family, g));
                    } else {
                        on_time.entry(i).or_default().push((family, g));
                    }
                }
            }
        }
    }
    let mut first_batch = None;
    for (i, rows) in &on_time {
        let at = base + Duration::minutes(10 * i + 1);
        let id = Uuid::new_v4();
        let b = batch_of(c, rows, id, at);
        s.ingest(&b, at).await.unwrap();
        first_batch.get_or_insert(b);
    }
    let end = base + Duration::hours(6);
    s.roll_up(end + Duration::minutes(10), 1_000).await.unwrap();
    // The cut-off server's spool, delivered after its hours were rolled up; and a replay.
    let at = end + Duration::minutes(20);
    s.ingest(&batch_of(c, &late, Uuid::new_v4(), at), at)
        .await
        .unwrap();
    let replay = first_batch.unwrap();
    assert!(matches!(
        s.ingest(&replay, at).await.unwrap(),
        IngestOutcome::Replayed(_)
    ));
    let report = s.roll_up(end + Duration::minutes(30), 1_000).await.unwrap();
    assert!(
        report.buckets_recomputed > 0,
        "the late hours are recomputed: {report:?}"
    );
    assert_eq!(
        s.roll_up(end + Duration::minutes(31), 1_000)
            .await
            .unwrap()
            .buckets_written,
        0,
        "nothing is left to roll up"
    );

    let servers: BTreeMap<String, i64> = s
        .list_servers()
        .await
        .unwrap()
        .into_iter()
        .map(|sv| (sv.instance.as_str().to_owned(), sv.id))
        .collect();
    let marks = s.rollup_watermarks().await.unwrap();
    for family in FAMILIES {
        let readings: Vec<Reading> = all
            .iter()
            .filter(|(f, _)| f.name == family.name)
            .map(|(f, g)| reading(f, servers[g.instance], g))
            .collect();
        let mark = |tier| {
            marks
                .iter()
                .find(|m| m.family == family.name && m.tier == tier)
                .unwrap_or_else(|| panic!("{} has no {tier:?} watermark", family.name))
                .done_until
        };
        assert_eq!(mark(Tier::Hourly), end, "{}", family.name);
        assert_eq!(mark(Tier::Daily), midnight, "{}", family.name);
        let hours: Vec<Bucket> = rollup::roll_up(family, &readings);
        let days: Vec<Bucket> = rollup::merge(family, Tier::Daily, &hours)
            .into_iter()
            .filter(|b| b.start < mark(Tier::Daily))
            .collect();
        for (tier, want) in [(Tier::Hourly, hours), (Tier::Daily, days)] {
            let got = s
                .read_buckets(&BucketQuery {
                    family,
                    tier,
                    from: base - Duration::DAY,
                    to: end + Duration::DAY,
                    max_rows: 100_000,
                })
                .await
                .unwrap();
            assert_buckets_equal(family.name, tier, got, want);
        }
        steps_equal_the_domain_folding(&s, family, &readings, &servers, base, end).await;
    }
}

/// One folded step: column, labels, start, numerator, denominator.
type StepPoint = (String, Vec<Option<String>>, OffsetDateTime, f64, f64);

/// Raw rows folded into steps by the store (a 7-minute step on an origin of its own, a range
/// starting mid-step) equal the domain's folding of the same readings, on each server (one
/// with a gap longer than the lookback); reading more rows than allowed is refused.
async fn steps_equal_the_domain_folding<S: Stores>(
    s: &S,
    family: &'static FamilySpec,
    readings: &[Reading],
    servers: &BTreeMap<String, i64>,
    base: OffsetDateTime,
    end: OffsetDateTime,
) {
    let columns: Vec<_> = family
        .columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnKind::Counter | ColumnKind::Gauge))
        .collect();
    if columns.is_empty() {
        return;
    }
    let (origin, step) = (base + Duration::minutes(3), Duration::minutes(7));
    let (from, to) = (base + Duration::minutes(95), end - Duration::minutes(12));
    let labels: Vec<String> = family.labels().map(|l| l.name.to_owned()).collect();
    let cols = rollup::columns(family);
    for &server_id in servers.values() {
        let mut q = SeriesQuery {
            server_id,
            family,
            columns: columns.clone(),
            from,
            to,
            filters: vec![],
            max_rows: 100_000,
        };
        let mut got: Vec<StepPoint> = s
            .query_steps(&q, origin, step)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|r| {
                let l: Vec<Option<String>> = labels.iter().map(|n| r.labels[n].clone()).collect();
                r.points.into_iter().map(move |p| {
                    (
                        r.column.to_owned(),
                        l.clone(),
                        p.time,
                        p.numerator,
                        p.denominator,
                    )
                })
            })
            .collect();
        let mine: Vec<Reading> = readings
            .iter()
            .filter(|r| {
                r.server_id == server_id && r.time >= from - rollup::LOOKBACK && r.time < to
            })
            .cloned()
            .collect();
        let buckets = rollup::roll_up_in(family, &mine, |t| {
            (t >= from).then(|| rollup::step_start(origin, step, t))
        });
        let value = |b: &Bucket, name: String| {
            cols.iter()
                .position(|c| c.name() == name)
                .and_then(|k| b.values[k].as_ref())
                .and_then(Scalar::num)
        };
        let mut want = Vec::new();
        for c in &columns {
            for b in &buckets {
                let pair = if c.kind == ColumnKind::Counter {
                    value(b, format!("{}_increase", c.name)).map(|n| (n, b.seconds))
                } else {
                    value(b, format!("{}_sum", c.name)).zip(value(b, format!("{}_count", c.name)))
                };
                if let Some((n, d)) = pair {
                    want.push((c.name.to_owned(), b.labels.clone(), b.start, n, d));
                }
            }
        }
        let key = |x: &StepPoint| (x.0.clone(), x.1.clone(), x.2);
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert!(
            !want.is_empty(),
            "{}: the range holds readings",
            family.name
        );
        assert_eq!(
            got.iter().map(key).collect::<Vec<_>>(),
            want.iter().map(key).collect::<Vec<_>>(),
            "{}: the steps differ",
            family.name
        );
        for (g, w) in got.iter().zip(&want) {
            assert!(
                close(&Some(Scalar::Num(g.3)), &Some(Scalar::Num(w.3)))
                    && close(&Some(Scalar::Num(g.4)), &Some(Scalar::Num(w.4))),
                "{} {} {:?} {}: store folds {}/{}, the domain {}/{}",
                family.name,
                g.0,
                g.1,
                g.2,
                g.3,
                g.4,
                w.3,
                w.4
            );
        }
        let lookback = columns.iter().any(|c| c.kind == ColumnKind::Counter);
        q.max_rows = mine.iter().filter(|r| lookback || r.time >= from).count() - 1;
        assert!(
            matches!(
                s.query_steps(&q, origin, step).await,
                Err(crate::StoreError::Conflict { .. })
            ),
            "{}: more raw rows than allowed are refused",
            family.name
        );
    }
}

/// Retention drops whole partitions of each tier: exactly those that ended before the
/// tier's horizon.
pub async fn retention_drops_exactly_the_expired_partitions_of_each_tier<S: Stores>(s: S) {
    let c = registered(&s).await;
    let family = pganalytics_domain::catalog::family("sys_load").unwrap();
    // A Wednesday at 10:00, two readings (so one hourly and one daily bucket).
    let day = day_start(Tier::Daily.bucket_start(now()).date()) - Duration::days(3);
    let at = day + Duration::hours(10);
    for m in [0, 10] {
        let t = at + Duration::minutes(m);
        let g = Gen {
            instance: "main",
            time: t,
            values: generate(family, 0, m, t),
        };
        s.ingest(&batch_of(c, &[(family, g)], Uuid::new_v4(), t), t)
            .await
            .unwrap();
    }
    s.roll_up(day + Duration::days(2), 1_000).await.unwrap();
    let keep = Retention {
        raw_days: 1,
        hourly_days: 10,
        daily_days: 40,
    };
    let policy = RetentionPolicy {
        settings: BTreeMap::new(),
        stored: BTreeMap::from([(family.name.to_owned(), keep)]),
    };
    let count = |tier: Tier| {
        let s = &s;
        async move {
            if tier == Tier::Raw {
                return s
                    .read_rows(
                        &pganalytics_domain::alerts::eval::RowsNeed {
                            family,
                            columns: vec![],
                            servers: s
                                .list_servers()
                                .await
                                .unwrap()
                                .iter()
                                .map(|x| x.id)
                                .collect(),
                            from: at - Duration::DAY,
                            to: at + Duration::DAY,
                            filters: vec![],
                        },
                        100,
                    )
                    .await
                    .unwrap()
                    .len();
            }
            s.read_buckets(&BucketQuery {
                family,
                tier,
                from: at - Duration::days(40),
                to: at + Duration::days(40),
                max_rows: 100,
            })
            .await
            .unwrap()
            .len()
        }
    };
    assert_eq!(
        (
            count(Tier::Raw).await,
            count(Tier::Hourly).await,
            count(Tier::Daily).await
        ),
        (2, 1, 1)
    );
    for tier in Tier::ALL {
        let end = day_start(tier.partition_end(tier.partition_of(at)));
        let horizon = Duration::days(i64::from(keep.days(tier)));
        // A second before the partition's end passes the horizon: kept.
        s.maintain(end + horizon - Duration::SECOND, &policy)
            .await
            .unwrap();
        assert!(
            count(tier).await > 0,
            "{tier:?} dropped before its whole partition expired"
        );
        let report = s.maintain(end + horizon, &policy).await.unwrap();
        assert_eq!(count(tier).await, 0, "{tier:?} kept past its retention");
        assert!(report.partitions_dropped >= 1);
    }
}

/// `pg_statement` rows: three statements on two databases, texts for two.
fn statement_rows(at: OffsetDateTime, i: i64) -> Vec<(&'static FamilySpec, Gen)> {
    let family = pganalytics_domain::catalog::family("pg_statement").unwrap();
    let text = pganalytics_domain::catalog::family("pg_statement_text").unwrap();
    let mut out = Vec::new();
    for (q, db, calls, ms) in [
        ("101", "app", 10.0, 5.0),
        ("202", "app", 1.0, 900.0),
        ("303", "etl", 50.0, 1.0),
    ] {
        let mut values = vec![
            Some(json!(db)),
            Some(json!("alice")),
            Some(json!(q)),
            Some(json!(60.0)),
        ];
        let scale = 1.0 + i as f64;
        values.push(Some(json!(calls * scale))); // calls
        values.push(Some(json!(ms * calls * scale))); // exec_time_ms
        values.push(Some(json!(0.5))); // plan_time_ms
        values.push(Some(json!(calls * 2.0))); // rows
        for n in 0..8 {
            values.push(Some(json!(f64::from(n) + scale)));
        }
        out.push((
            family,
            Gen {
                instance: "main",
                time: at,
                values,
            },
        ));
        if q != "303" {
            out.push((
                text,
                Gen {
                    instance: "main",
                    time: at,
                    values: vec![
                        Some(json!(db)),
                        Some(json!(q)),
                        Some(json!(format!("SELECT {q} /* v{i} */"))),
                    ],
                },
            ));
        }
    }
    out
}

/// Top statements over a range equal a direct sum of the stored deltas, from raw rows and
/// from hourly rollups, with the latest text.
pub async fn top_statements_over_a_range_match_a_direct_sum<S: Stores>(s: S) {
    let c = registered(&s).await;
    let base = Tier::Hourly.bucket_start(now()) - Duration::hours(5);
    for i in 0..12 {
        let at = base + Duration::minutes(15 * i);
        s.ingest(&batch_of(c, &statement_rows(at, i), Uuid::new_v4(), at), at)
            .await
            .unwrap();
    }
    s.roll_up(base + Duration::hours(4), 1_000).await.unwrap();
    let server = s.list_servers().await.unwrap()[0].id;
    for tier in [Tier::Raw, Tier::Hourly] {
        for order in StatementOrder::ALL {
            let (from, to) = (base, base + Duration::hours(3));
            let got = s
                .top_statements(&StatementsQuery {
                    server_id: server,
                    tier,
                    from,
                    to,
                    order,
                    limit: 2,
                    queryid: None,
                    datname: None,
                    username: None,
                })
                .await
                .unwrap();
            let mut sums: BTreeMap<&str, crate::store::StatementTotals> = BTreeMap::new();
            for i in 0..12 {
                let at = base + Duration::minutes(15 * i);
                if at < from || at >= to {
                    continue;
                }
                for (_, g) in statement_rows(at, i)
                    .into_iter()
                    .filter(|(f, _)| f.name == "pg_statement")
                {
                    let v: Vec<f64> = g.values[4..]
                        .iter()
                        .map(|v| v.as_ref().unwrap().as_f64().unwrap())
                        .collect();
                    let id = g.values[2].as_ref().unwrap().as_str().unwrap().to_owned();
                    let db = g.values[0].as_ref().unwrap().as_str().unwrap().to_owned();
                    let e = sums
                        .entry(if id == "101" {
                            "101"
                        } else if id == "202" {
                            "202"
                        } else {
                            "303"
                        })
                        .or_insert_with(|| {
                            crate::store::StatementTotals::from_sums(
                                id,
                                Some(db),
                                Some("alice".into()),
                                &[0.0; 12],
                            )
                        });
                    let add =
                        crate::store::StatementTotals::from_sums(String::new(), None, None, &v);
                    e.calls += add.calls;
                    e.total_time_ms += add.total_time_ms;
                    e.plan_time_ms += add.plan_time_ms;
                    e.rows += add.rows;
                    e.shared_blks_hit += add.shared_blks_hit;
                    e.shared_blks_read += add.shared_blks_read;
                    e.shared_blks_dirtied += add.shared_blks_dirtied;
                    e.shared_blks_written += add.shared_blks_written;
                    e.temp_blks_written += add.temp_blks_written;
                    e.blk_read_time_ms += add.blk_read_time_ms;
                    e.blk_write_time_ms += add.blk_write_time_ms;
                    e.wal_bytes += add.wal_bytes;
                }
            }
            let want = rank_statements(sums.into_values().collect(), order, 2);
            assert_eq!(
                got.iter()
                    .map(|t| (&t.queryid, t.calls, t.total_time_ms, t.temp_blks_written))
                    .collect::<Vec<_>>(),
                want.iter()
                    .map(|t| (&t.queryid, t.calls, t.total_time_ms, t.temp_blks_written))
                    .collect::<Vec<_>>(),
                "{tier:?} by {order:?}"
            );
            for t in &got {
                let expected =
                    (t.queryid != "303").then(|| format!("SELECT {} /* v11 */", t.queryid));
                assert_eq!(t.query, expected, "the latest text of {}", t.queryid);
            }
        }
    }
}

fn event(severity: &str, kind: &str, sqlstate: &str, message: &str) -> Vec<Option<Value>> {
    vec![
        Some(json!(severity)),
        Some(json!(kind)),
        Some(json!(sqlstate)),
        Some(json!("app")),
        Some(json!("alice")),
        Some(json!("psql")),
        Some(json!(4242)),
        None,
        Some(json!(message)),
        Some(json!(kind)),
    ]
    .into_iter()
    // The template id and the kinds' fields: empty, but for a relation.
    .chain(
        pganalytics_domain::logs::EVENT_COLUMNS[11..]
            .iter()
            .map(|c| (*c == "relation").then(|| json!("app.public.t"))),
    )
    .collect()
}

/// Log search: filters, full text, newest first, pages that neither skip nor repeat while
/// events keep arriving, and counts per kind.
pub async fn log_search_filters_and_pages_without_gaps_or_duplicates<S: Stores>(s: S) {
    let c = registered(&s).await;
    let family = pganalytics_domain::catalog::family("pg_log_event").unwrap();
    let base = now() - Duration::hours(2);
    let push = |i: i64, instance: &'static str| {
        let at = base + Duration::seconds(i * 10);
        let (severity, kind, state, message) = match i % 3 {
            0 => (
                "ERROR",
                "error",
                "42P01",
                format!("relation \"t{i}\" does not exist"),
            ),
            1 => (
                "LOG",
                "checkpoint",
                "00000",
                format!("checkpoint complete: wrote {i} buffers"),
            ),
            _ => (
                "FATAL",
                "authentication_failure",
                "28P01",
                format!("password authentication failed for user \"u{i}\""),
            ),
        };
        // Two events share each time: the event id orders them.
        batch_of(
            c,
            &[(
                family,
                Gen {
                    instance,
                    time: at,
                    values: event(severity, kind, state, &message),
                },
            )],
            Uuid::new_v4(),
            at,
        )
    };
    for i in 0..30 {
        for instance in ["main", "replica"] {
            let b = push(i, instance);
            s.ingest(&b, base + Duration::seconds(i * 10))
                .await
                .unwrap();
        }
    }
    let mut q = LogSearch {
        limit: 7,
        ..LogSearch::default()
    };
    let mut seen: Vec<(OffsetDateTime, i64)> = Vec::new();
    let mut extra = 100;
    loop {
        let page = s.search_log_events(&q).await.unwrap();
        seen.extend(page.iter().map(|e| (e.time, e.event_id)));
        // New events keep arriving (newer than anything paged).
        let b = push(extra, "main");
        s.ingest(&b, now()).await.unwrap();
        extra += 1;
        match page.last() {
            Some(last) if page.len() == q.limit => q.before = Some((last.time, last.event_id)),
            _ => break,
        }
    }
    assert_eq!(
        seen.len(),
        60,
        "every original event once, none of the new ones"
    );
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no duplicates");

    let only = |f: fn(&mut LogSearch)| {
        let mut q = LogSearch {
            limit: 1_000,
            to: Some(base + Duration::minutes(10)),
            ..LogSearch::default()
        };
        f(&mut q);
        q
    };
    let n = |q: LogSearch| {
        let s = &s;
        async move { s.search_log_events(&q).await.unwrap().len() }
    };
    assert_eq!(n(only(|q| q.severities = vec!["FATAL".into()])).await, 20);
    assert_eq!(n(only(|q| q.kinds = vec!["checkpoint".into()])).await, 20);
    assert_eq!(
        n(only(
            |q| q.categories = vec!["error".into(), "checkpoint".into()]
        ))
        .await,
        40
    );
    assert_eq!(n(only(|q| q.sqlstates = vec!["28".into()])).await, 20);
    assert_eq!(n(only(|q| q.sqlstates = vec!["42P01".into()])).await, 20);
    assert_eq!(n(only(|q| q.databases = vec!["other".into()])).await, 0);
    assert_eq!(
        n(only(|q| q.text = Some("Authentication FAILED".into()))).await,
        20
    );
    assert_eq!(n(only(|q| q.text = Some("t12".into()))).await, 2);
    let servers = s.list_servers().await.unwrap();
    let replica = servers
        .iter()
        .find(|x| x.instance.as_str() == "replica")
        .unwrap()
        .id;
    let mut q = only(|_| {});
    q.servers = vec![replica];
    assert_eq!(n(q.clone()).await, 30);
    let counts = s.count_log_events(&q, Duration::minutes(1)).await.unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<i64>(), 30);
    assert!(counts.iter().all(|c| c.bucket.unix_timestamp() % 60 == 0));
    assert_eq!(
        counts
            .iter()
            .filter(|c| c.kind.as_deref() == Some("checkpoint"))
            .map(|c| c.count)
            .sum::<i64>(),
        10
    );
}

/// Retention chosen through the API is stored with its audit entry, and forgotten.
pub async fn retention_choices_are_stored_audited_and_forgotten<S: Stores>(s: S) {
    let keep = Retention {
        raw_days: 3,
        hourly_days: 30,
        daily_days: 365,
    };
    let actions = || async {
        let q = pganalytics_domain::audit::AuditQuery {
            action: Some("retention.".into()),
            limit: 100,
            ..Default::default()
        };
        s.list_audit(&q).await.unwrap().len()
    };
    s.set_retention("pg_table", Some(keep), now(), &audit("retention.update"))
        .await
        .unwrap();
    assert_eq!(
        s.stored_retention().await.unwrap().get("pg_table"),
        Some(&keep)
    );
    s.set_retention("pg_table", None, now(), &audit("retention.reset"))
        .await
        .unwrap();
    assert!(s.stored_retention().await.unwrap().is_empty());
    assert_eq!(actions().await, 2);
}
