//! `tier-bench`: a fleet's worth of data in the storage tiers, and what reading it costs
//! (a benchmark, not a test).
//!
//! It starts a private, durable PostgreSQL cluster, enrols `--servers` collectors and
//! writes `--days` days of the families the overview and the dashboards read, at the
//! agent's intervals (database every 60 s, activity and host every 15 s, disk every 60 s,
//! tables every 5 min on `--table-share` of the fleet), hour by hour through the store's
//! ingest (binary COPY, one transaction per server and hour). After each day it runs
//! maintenance at that day's end as the server would: rollups, partitions, retention (raw
//! rows are kept 7 days, so the older days survive as rollups only).
//!
//! Then it prints the rows and bytes per server per day of each tier, the rollup time per
//! hour of data, and the p50 / p95 of the overview's queries through the query use case
//! (one server: 24 h, 7 d, 30 d, 1 y; the fleet's latest values) warm, and once more after
//! a PostgreSQL restart.

use clap::Parser;
use diesel::{Connection as _, RunQueryDsl as _};
use pganalytics_adapters::backend::{PostgresBackend, StorageSettings};
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::system::OsRandom;
use pganalytics_adapters::system::TestClock;
use pganalytics_domain::batch::{ColumnValues, FamilyRows, Skipped, TextValues, ValidatedBatch};
use pganalytics_domain::catalog::{self, ColumnKind, FamilySpec};
use pganalytics_domain::collector::{Collector, InstanceName};
use pganalytics_domain::console::fleet::FleetQuery;
use pganalytics_domain::console::range::TimeRange;
use pganalytics_domain::rollup::{RetentionPolicy, Tier};
use pganalytics_loadgen::{enrol_in_store, rt, scratch_dir};
use pganalytics_ports::store::{MetricStore, TierStore};
use pganalytics_ports::usecases::{
    FleetOverview, Limits, QueryMetrics, SeriesRequest, ServerUseCases,
};
use pganalytics_server::console_render;
use std::sync::Arc;
use std::time::Instant;
use time::{Duration, OffsetDateTime};

#[derive(Parser, Debug)]
#[command(about = "N servers × D days in the storage tiers: sizes, rollup time, query latency")]
struct Args {
    #[arg(long, default_value_t = 500)]
    servers: usize,
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Share of the fleet whose tables are collected (every 5 minutes).
    #[arg(long, default_value_t = 0.2)]
    table_share: f64,
    /// Tables per server where tables are collected.
    #[arg(long, default_value_t = 50)]
    tables: usize,
    /// Runs of each query.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Concurrent ingest transactions.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Keep the cluster here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// What a server sends of a family: series, seconds between readings.
fn plan(f: &FamilySpec) -> Option<(usize, i64)> {
    Some(match f.name {
        "pg_database" => (2, 60),
        "pg_server" | "pg_bgwriter" | "pg_wal" => (1, 60),
        "pg_activity" => (4, 15),
        "sys_cpu" | "sys_memory" | "sys_load" | "sys_disk_io" | "sys_network" => (1, 15),
        "disk_usage" => (2, 60),
        "pg_table" => (0, 300),
        _ => return None,
    })
}

/// The rows of `family` for server `s`, series `0..n`, at `times`.
fn block(
    f: &'static FamilySpec,
    s: usize,
    n: usize,
    times: &[OffsetDateTime],
    origin: OffsetDateTime,
) -> FamilyRows {
    let rows = n * times.len();
    let mut time = Vec::with_capacity(rows);
    let mut columns: Vec<ColumnValues> = f
        .columns
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Label | ColumnKind::Text => {
                ColumnValues::Text(TextValues::with_capacity(rows))
            }
            ColumnKind::Counter => ColumnValues::Int(Vec::with_capacity(rows)),
            ColumnKind::Gauge => ColumnValues::Float(Vec::with_capacity(rows)),
            ColumnKind::Timestamp => ColumnValues::Time(Vec::with_capacity(rows)),
        })
        .collect();
    for i in 0..n {
        for t in times {
            time.push(*t);
            let secs = (*t - origin).whole_seconds();
            for (j, (c, values)) in f.columns.iter().zip(columns.iter_mut()).enumerate() {
                match values {
                    ColumnValues::Text(v) => v.push(Some(&match (f.name, c.name) {
                        (_, "datname") => format!("db{}", i % 2),
                        ("pg_activity", "state") => ["active", "idle"][i % 2].to_owned(),
                        ("disk_usage", "role") => ["data_directory", "wal"][i % 2].to_owned(),
                        (_, name) => format!("{name}{i}"),
                    })),
                    // Counters grow at a pace of their own per server and series.
                    ColumnValues::Int(v) => {
                        v.push(Some(secs * (1 + ((s + i + j) % 13) as i64) + 1_000_000))
                    }
                    ColumnValues::Float(v) => v.push(Some(
                        ((secs / 60 + (s * 7 + i * 3 + j) as i64) % 97) as f64 + 0.5,
                    )),
                    ColumnValues::Time(v) => v.push(Some(origin)),
                }
            }
        }
    }
    FamilyRows {
        family: f,
        instance: InstanceName::parse("main").expect("valid instance"),
        time,
        columns,
    }
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.95))
}

#[derive(diesel::QueryableByName)]
struct Sized {
    #[diesel(sql_type = diesel::sql_types::Text)]
    schema: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-tier-bench", args.data_dir.as_deref())?;
    let mut opts = ClusterOptions::new(dir.join("pg"), PgBinaries::locate(None)?);
    opts.settings = vec![
        ("shared_buffers".into(), "2GB".into()),
        // Large enough to spare checkpoints, small enough that a 500-server run's WAL
        // does not fill the disk beside its data.
        ("max_wal_size".into(), "4GB".into()),
        ("checkpoint_timeout".into(), "30min".into()),
    ];
    let mut cluster = LocalCluster::start(opts)?;
    let db_url = cluster.url("pganalytics");
    let rt = rt()?;
    rt.block_on(pganalytics_adapters::postgres::ensure_database(
        &cluster.url("postgres"),
        "pganalytics",
        None,
    ))?;
    pganalytics_adapters::postgres::migrate(&db_url)?;
    let connect = || {
        PgStore::connect(
            &db_url,
            &PoolOptions {
                max_size: 2 * args.writers.max(2),
                ..PoolOptions::default()
            },
        )
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let store = connect()?;
    let now = OffsetDateTime::now_utc();
    let end = Tier::Hourly.bucket_start(now);
    let start = Tier::Daily.bucket_start(end - Duration::days(args.days));
    let collectors = rt.block_on(enrol_in_store(&store, "tier", args.servers, start))?;
    let families: Vec<(&'static FamilySpec, usize, i64)> = catalog::FAMILIES
        .iter()
        .filter_map(|f| plan(f).map(|(n, every)| (f, n, every)))
        .collect();
    let with_tables = (args.servers as f64 * args.table_share).round() as usize;
    println!(
        "tier-bench: {} servers ({} with {} tables) × {} days, PostgreSQL at {}",
        args.servers,
        with_tables,
        args.tables,
        args.days,
        cluster.data_dir().display()
    );

    // Fill hour by hour; maintenance after each day, at its end.
    let (mut rows_written, mut ingest_s, mut rollup_s, mut hours_rolled) = (0u64, 0.0, 0.0, 0u64);
    let policy = RetentionPolicy::default();
    let mut hour = start;
    let started = Instant::now();
    while hour < end {
        let t0 = Instant::now();
        rows_written += rt.block_on(ingest_hour(
            &store,
            &collectors,
            &families,
            hour,
            start,
            with_tables,
            args.tables,
            args.writers,
        ))?;
        ingest_s += t0.elapsed().as_secs_f64();
        hour += Duration::HOUR;
        if hour == Tier::Daily.bucket_start(hour) || hour == end {
            let at = hour + Duration::minutes(10);
            let t1 = Instant::now();
            let report = rt.block_on(store.roll_up(at, 48))?;
            rollup_s += t1.elapsed().as_secs_f64();
            hours_rolled += report.hours_rolled;
            rt.block_on(store.maintain(at, &policy))?;
            eprintln!(
                "  {} written: {rows_written} rows so far, {:.0} s ingest, {:.0} s rollups",
                hour.date(),
                ingest_s,
                rollup_s
            );
        }
    }
    let families_rolled = families.len() as f64;
    println!(
        "\nwrote {rows_written} rows in {:.0} s ({:.0} rows/s ingest); rollups {:.1} s for {} family-hours: {:.1} ms per family-hour, {:.0} ms per hour of the fleet's data",
        started.elapsed().as_secs_f64(),
        rows_written as f64 / ingest_s,
        rollup_s,
        hours_rolled,
        rollup_s * 1000.0 / hours_rolled.max(1) as f64,
        rollup_s * 1000.0 / (hours_rolled.max(1) as f64 / families_rolled)
    );

    // Sizes per tier.
    let mut conn = diesel::PgConnection::establish(&db_url)?;
    let sizes: Vec<Sized> = diesel::sql_query(
        "SELECT n.nspname::text AS schema, coalesce(sum(c.reltuples), 0)::bigint AS rows, \
         coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname IN ('metrics', 'metrics_hourly', 'metrics_daily') AND c.relkind = 'r' GROUP BY 1 ORDER BY 1",
    )
    .load(&mut conn)?;
    diesel::sql_query("VACUUM ANALYZE").execute(&mut conn)?;
    let sizes: Vec<Sized> = if sizes.iter().any(|s| s.rows <= 0) {
        diesel::sql_query(
            "SELECT n.nspname::text AS schema, coalesce(sum(c.reltuples), 0)::bigint AS rows, \
             coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('metrics', 'metrics_hourly', 'metrics_daily') AND c.relkind = 'r' GROUP BY 1 ORDER BY 1",
        )
        .load(&mut conn)?
    } else {
        sizes
    };
    println!(
        "\n{:<16} {:>14} {:>12} {:>22}",
        "tier", "rows", "MB", "bytes/server/day"
    );
    // The data spans the whole days asked for plus the current day up to its last hour.
    let span_days = (end - start).as_seconds_f64() / 86_400.0;
    for s in &sizes {
        let days = if s.schema == "metrics" {
            span_days.min(7.0)
        } else {
            span_days
        };
        println!(
            "{:<16} {:>14} {:>12.0} {:>22.0}",
            s.schema,
            s.rows,
            s.bytes as f64 / 1e6,
            s.bytes as f64 / (args.servers as f64 * days)
        );
    }

    // Queries, through the query use case on a clock at the data's end.
    let clock = Arc::new(TestClock::new());
    clock.set(end);
    let measure = |store: &Arc<PgStore>, runs: usize| -> anyhow::Result<Vec<(String, f64, f64)>> {
        let query = QueryMetrics {
            tiers: store.clone(),
            clock: clock.clone(),
            retention_settings: Default::default(),
            max_rows: 200_000,
            max_cells: 1_000_000,
            max_points_per_series: 11_000,
            max_answer_points: 500_000,
        };
        let servers = rt.block_on(store.list_servers())?;
        let overview: [(&str, &str); 5] = [
            (
                "pg_database",
                "xact_commit,xact_rollback,blks_hit,blks_read",
            ),
            ("pg_activity", "sessions"),
            ("sys_cpu", "user_ms,system_ms,iowait_ms,idle_ms"),
            ("sys_load", "load1"),
            ("disk_usage", "available_bytes"),
        ];
        let mut out = Vec::new();
        for (name, range, step) in [
            ("24 h", Duration::DAY, Duration::minutes(5)),
            ("7 d", Duration::days(7), Duration::HOUR),
            ("30 d", Duration::days(30), Duration::hours(2)),
            ("1 y", Duration::days(365), Duration::DAY),
        ] {
            let (mut per_query, mut per_page) = (Vec::new(), Vec::new());
            for run in 0..runs {
                let server = &servers[(run * 7919) % servers.len()];
                let page = Instant::now();
                for (family, columns) in overview {
                    let t = Instant::now();
                    rt.block_on(query.execute(SeriesRequest {
                        server_id: server.id,
                        family: family.into(),
                        columns: columns.split(',').map(str::to_owned).collect(),
                        from: Some(end - range),
                        to: Some(end),
                        step: Some(step),
                        filters: Vec::new(),
                    }))?;
                    per_query.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                per_page.push(page.elapsed().as_secs_f64() * 1000.0);
            }
            let (q50, q95) = percentiles(per_query);
            let (p50, p95) = percentiles(per_page);
            out.push((format!("one server, {name}: one series query"), q50, q95));
            out.push((
                format!("one server, {name}: overview (5 queries)"),
                p50,
                p95,
            ));
        }
        // The fleet list, as the API and the console build it.
        let fleet_list = FleetOverview {
            metrics: store.clone(),
            collectors: store.clone(),
            alerts: store.clone(),
            clock: clock.clone(),
        };
        let mut fleet = Vec::new();
        let mut shown = 0;
        for _ in 0..runs.clamp(1, 20) {
            let t = Instant::now();
            let rows = rt.block_on(fleet_list.list())?;
            fleet.push(t.elapsed().as_secs_f64() * 1000.0);
            shown = rows
                .iter()
                .filter(|r| r.transactions_per_second.is_some())
                .count();
        }
        let (f50, f95) = percentiles(fleet);
        out.push((
            format!("fleet list of {} ({shown} with figures)", servers.len()),
            f50,
            f95,
        ));
        // The console's pages: the page model (the use cases) and its HTML, the server's
        // whole share of a page but TLS.
        let keys = tempfile::tempdir()?;
        let backend = rt.block_on(PostgresBackend::open(
            &StorageSettings {
                data_dir: keys.path().to_owned(),
                database_url: Some(db_url.clone().into()),
                pg_bindir: None,
                pool_size: 8,
                bcrypt_cost: 4,
                secrets_keys: None,
                secrets_key_file: None,
                sql_rules_url: None,
            },
            clock.clone(),
            Arc::new(OsRandom),
        ))?;
        let uc = ServerUseCases::new(backend.backend(), Limits::default());
        let mut fleet_page = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs.clamp(1, 20) {
            let t = Instant::now();
            let page = rt.block_on(uc.fleet_page(FleetQuery::default()))?;
            bytes = console_render::fleet(&page).len();
            fleet_page.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (f50, f95) = percentiles(fleet_page);
        out.push((
            format!(
                "console fleet page ({} servers, {} KB)",
                servers.len(),
                bytes / 1000
            ),
            f50,
            f95,
        ));
        for preset in ["1h", "24h", "7d", "30d", "1y"] {
            let mut times = Vec::new();
            for run in 0..runs.clamp(1, 20) {
                let server = &servers[(run * 7919) % servers.len()];
                let range = TimeRange::parse(Some(preset), None, None, end)?;
                let t = Instant::now();
                let page = rt.block_on(uc.server_page(server.id, range))?;
                bytes = console_render::server(&page).len();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let (p50, p95) = percentiles(times);
            out.push((
                format!("console server page, {preset} ({} KB)", bytes / 1000),
                p50,
                p95,
            ));
        }
        Ok(out)
    };
    let warm = measure(&store, args.runs)?;
    drop(store);
    cluster.restart()?;
    let cold = measure(&connect()?, 1)?;
    println!(
        "\n{:<48} {:>9} {:>9} {:>14}",
        "query (warm)", "p50 ms", "p95 ms", "after restart"
    );
    for ((name, p50, p95), (_, c, _)) in warm.iter().zip(&cold) {
        println!("{name:<48} {p50:>9.1} {p95:>9.1} {c:>14.1}");
    }
    drop(cluster);
    Ok(())
}

/// One hour of every server's data, `writers` transactions at a time; the rows written.
#[allow(clippy::too_many_arguments)]
async fn ingest_hour(
    store: &Arc<PgStore>,
    collectors: &[Collector],
    families: &[(&'static FamilySpec, usize, i64)],
    hour: OffsetDateTime,
    origin: OffsetDateTime,
    with_tables: usize,
    tables: usize,
    writers: usize,
) -> anyhow::Result<u64> {
    let mut rows = 0;
    for chunk in collectors.chunks(writers.max(1)) {
        let mut tasks = Vec::new();
        for (k, c) in chunk.iter().enumerate() {
            let s = collectors.iter().position(|x| x.id == c.id).unwrap_or(k);
            let blocks: Vec<FamilyRows> = families
                .iter()
                .filter_map(|(f, n, every)| {
                    let n = if f.name == "pg_table" {
                        if s < with_tables { tables } else { 0 }
                    } else {
                        *n
                    };
                    // Each server reads at an offset of its own within the interval.
                    let offset = (s as i64 * 7) % every;
                    let times: Vec<OffsetDateTime> = (0..3600 / every)
                        .map(|i| hour + Duration::seconds(offset + i * every))
                        .collect();
                    (n > 0).then(|| block(f, s, n, &times, origin))
                })
                .collect();
            let batch = ValidatedBatch {
                batch_id: uuid::Uuid::new_v4(),
                collector_id: c.id,
                agent_version: "tier-bench".into(),
                collected_at: hour + Duration::HOUR,
                blocks,
                skipped: Skipped::default(),
            };
            rows += batch.blocks.iter().map(|b| b.len() as u64).sum::<u64>();
            let store = store.clone();
            // Pushed within its hour, as agents do every few seconds: no late-hour marks.
            tasks.push(tokio::spawn(async move {
                store.ingest(&batch, hour + Duration::seconds(3599)).await
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    Ok(rows)
}
