//! `alert-bench`: the built-in alert rules over a fleet's data (a benchmark, not a test).
//!
//! It starts a private, durable PostgreSQL cluster with `pg_stat_statements`, migrates it,
//! enrols `--servers` collectors, and fills every family the built-in rules read with what
//! that many servers send at the default intervals: statements (top `--statements` every
//! 5 min) and databases for the 25 hours the baselines need, disk usage for the 6 hours of
//! the prediction, everything else for an hour. Then it runs evaluation cycles as the
//! server does (every built-in rule, the real PostgreSQL store) and reports per cycle the
//! database time (`pg_stat_statements`, every statement of the cycle), the PostgreSQL CPU
//! and the wall time; the first cycle reads the baselines' hours, later ones only the
//! windows. The slowest statements of the last cycle are listed.

use anyhow::Context as _;
use clap::Parser;
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::system::{OsRandom, SystemClock, TestClock};
use pganalytics_domain::alerts::builtin;
use pganalytics_domain::alerts::rule::Condition;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
use pganalytics_domain::catalog::{self, ColumnKind, FamilySpec};
use pganalytics_domain::config::Intervals;
use pganalytics_loadgen::{cpu_now, rt, scratch_dir};
use pganalytics_ports::env::Clock as _;
use pganalytics_ports::store::{
    AlertFilter, AlertRuleStore, AlertStore, CollectorStore, MetricStore, StoredRule,
};
use pganalytics_ports::usecases::alerts::EvaluateAlerts;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

#[derive(Parser, Debug)]
#[command(about = "The built-in alert rules over N servers' data: database time per cycle")]
struct Args {
    #[arg(long, default_value_t = 500)]
    servers: usize,
    /// Statements per server in each 5-minute reading (the agent's default top N).
    #[arg(long, default_value_t = 100)]
    statements: usize,
    /// Tables per server (indexes: 1.5 per table).
    #[arg(long, default_value_t = 100)]
    tables: usize,
    /// Databases per server.
    #[arg(long, default_value_t = 3)]
    databases: usize,
    /// Evaluation cycles after the first, 15 s apart (20: every rule of a 5-minute family once).
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// Log the plans of statements slower than this many ms (auto_explain, with row counts)
    /// to the cluster's postgres.log; keep it with `--data-dir`.
    #[arg(long)]
    explain_ms: Option<u32>,
    /// Keep the cluster here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// How many series a server has of a family.
fn series_of(f: &FamilySpec, a: &Args) -> usize {
    match f.name {
        "pg_statement" => a.statements,
        "pg_table" => a.tables,
        "pg_index" => a.tables * 3 / 2,
        "pg_database" => a.databases,
        "pg_activity" => 4 * a.databases,
        "pg_lock" => 4,
        "sys_cpu" => 3,
        "sys_disk_io" | "sys_network" => 2,
        "disk_usage" | "sys_pressure" => 3,
        "pg_log_event" => 20,
        _ => 1,
    }
}

/// How far back a family is filled: what the rules read of it.
fn history_of(f: &FamilySpec) -> Duration {
    match f.name {
        "pg_statement" | "pg_database" => Duration::hours(25),
        "disk_usage" => Duration::hours(6),
        _ => Duration::hours(1),
    }
}

fn interval_of(f: &FamilySpec) -> i64 {
    match f.group {
        Some(g) => g.interval(&Intervals::default()).as_secs() as i64,
        // The agent's own figures come with every push; log events as they happen.
        None => 60,
    }
}

/// Counter names that count trouble: flat in a healthy fleet.
const TROUBLE: &[&str] = &[
    "rollback",
    "deadlock",
    "conflict",
    "error",
    "drop",
    "dead",
    "temp",
    "fail",
    "checksum",
    "dealloc",
    "skipped",
    "checkpoints_req",
    "blks_read",
    "read",
    "steal",
];

/// The SQL value of column `c` for series `i` at time `t` (an SQL expression in `i`, `s`
/// (the server id) and `t`): labels from realistic sets where rules match on them, counters
/// growing at a per-series pace, gauges healthy.
fn value_sql(f: &FamilySpec, c: &catalog::ColumnSpec) -> String {
    let pick = |values: &[&str]| {
        let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
        format!("(ARRAY[{}])[1 + i % {}]", list.join(", "), values.len())
    };
    match (f.name, c.name, c.kind) {
        (_, "datname", _) => "'db' || (i % 3)".into(),
        ("sys_cpu", "cpu", _) => pick(&["all", "0", "1"]),
        ("disk_usage", "role", _) => pick(&["data_directory", "wal", "other"]),
        ("sys_pressure", "resource", _) => pick(&["cpu", "memory", "io"]),
        ("pg_activity", "state", _) => pick(&["active", "idle", "idle in transaction", "active"]),
        ("pg_replication", "state", _) => "'streaming'".into(),
        ("pg_log_event", "severity", _) => pick(&["LOG", "ERROR", "WARNING", "FATAL"]),
        ("pg_log_event", "category", _) => pick(&["connection", "statement", "checkpoint", "lock"]),
        ("pg_log_event", "sqlstate", _) => pick(&["00000", "22P02", "23505", "57014"]),
        (_, "total_bytes" | "inodes_total" | "max_connections", _) => "1e12".into(),
        (_, "swap_total_bytes", _) => "1e10".into(),
        (_, "cpus", _) => "8".into(),
        (_, name, ColumnKind::Label) => format!("'{name}' || i"),
        (_, _, ColumnKind::Text) => "'message text'".into(),
        (_, name, ColumnKind::Timestamp) if name.contains("start") => {
            "$1::timestamptz - interval '30 days'".into()
        }
        (_, _, ColumnKind::Timestamp) => "t - interval '1 minute'".into(),
        // A healthy fleet: what counts trouble does not grow, the rest grows steadily.
        (_, name, ColumnKind::Counter) if TROUBLE.iter().any(|w| name.contains(w)) => "1000".into(),
        (_, _, ColumnKind::Counter) => {
            "(1000000 + (1 + i % 17 + s % 5) * extract(epoch FROM t - $2::timestamptz))::bigint"
                .into()
        }
        (_, name, ColumnKind::Gauge)
            if ["avail", "free", "safe", "valid", "ready", "active"]
                .iter()
                .any(|w| name.contains(w)) =>
        {
            "5e11".into()
        }
        (_, name, ColumnKind::Gauge) if name.contains("size") => "(1e9 + i * 1e6)::float8".into(),
        (_, _, ColumnKind::Gauge) => "0::float8".into(),
    }
}

/// The families the built-in rules read.
fn rule_families() -> anyhow::Result<Vec<&'static FamilySpec>> {
    let mut out = BTreeSet::new();
    for r in builtin::rules().map_err(|(f, e)| anyhow::anyhow!("{f}: {e:?}"))? {
        let name = match &r.condition {
            Condition::Metric(m) => m.family.name,
            Condition::Log(_) => "pg_log_event",
            Condition::Absence(a) => match a.target {
                pganalytics_domain::alerts::rule::AbsenceTarget::Family(f) => f.name,
                pganalytics_domain::alerts::rule::AbsenceTarget::Collector => continue,
            },
            Condition::Sql(_) | Condition::Certificate { .. } => continue,
        };
        out.insert(name);
    }
    out.into_iter()
        .map(|n| catalog::family(n).context("catalog"))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-alert-bench", args.data_dir.as_deref())?;
    let mut opts = ClusterOptions::new(dir.join("pg"), PgBinaries::locate(None)?);
    opts.settings = vec![
        (
            "shared_preload_libraries".into(),
            "pg_stat_statements".into(),
        ),
        ("shared_buffers".into(), "1GB".into()),
        ("max_wal_size".into(), "8GB".into()),
    ];
    if let Some(ms) = args.explain_ms {
        opts.settings.extend([
            ("session_preload_libraries".into(), "auto_explain".into()),
            ("auto_explain.log_min_duration".into(), format!("{ms}ms")),
            ("auto_explain.log_analyze".into(), "on".into()),
            ("auto_explain.log_timing".into(), "off".into()),
        ]);
    }
    let cluster = LocalCluster::start(opts)?;
    let admin_url = cluster.url("postgres");
    let db_url = cluster.url("pganalytics");
    let postmaster = cluster.postmaster_pid().context("no postmaster")?;
    let rt = rt()?;
    rt.block_on(pganalytics_adapters::postgres::ensure_database(
        &admin_url,
        "pganalytics",
        None,
    ))?;
    pganalytics_adapters::postgres::migrate(&db_url)?;
    let store = Arc::new(
        PgStore::connect(
            &db_url,
            &PoolOptions {
                max_size: 8,
                ..PoolOptions::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let now = SystemClock.now();
    let families = rule_families()?;
    eprintln!(
        "alert-bench: {} servers, {} families, PostgreSQL at {}",
        args.servers,
        families.len(),
        cluster.data_dir().display()
    );
    let started = Instant::now();
    rt.block_on(enrol(&store, &args, &families, now))?;
    let rows = fill(&db_url, &args, &families, now)?;
    eprintln!(
        "filled {rows} rows in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    rt.block_on(async {
        for r in builtin::rules().map_err(|(f, e)| anyhow::anyhow!("{f}: {e:?}"))? {
            let stored = StoredRule {
                spec: r.spec,
                builtin: true,
                edited: false,
                created_at: now,
                updated_at: now,
                last_error: None,
                last_evaluated: None,
            };
            store
                .create_rule(
                    &stored,
                    &AuditContext::cli(None).entry("alert_rule.create", None, now),
                )
                .await?;
        }
        anyhow::Ok(())
    })?;
    // The cycles run on a clock of their own, 15 s apart like the server's, ending at the
    // data's end: over `--cycles` × 15 s every paced rule comes due once.
    let clock = Arc::new(TestClock::new());
    let start = now - Duration::seconds(15 * args.cycles as i64);
    let eval = EvaluateAlerts {
        rules: store.clone(),
        alerts: store.clone(),
        channels: store.clone(),
        metrics: store.clone(),
        collectors: store.clone(),
        clock: clock.clone(),
        ids: Arc::new(OsRandom),
        leader: store.clone(),
        rule_timeout: std::time::Duration::from_secs(120),
        max_rows: 500_000,
        memory: Default::default(),
        paced: true,
    };
    let mut stats = diesel::PgConnection::establish_stats(&db_url)?;
    println!(
        "\n{:>6} {:>6} {:>7} {:>7} {:>12} {:>12} {:>9} {:>8}",
        "cycle", "rules", "not due", "failed", "db time ms", "statements", "pg cpu s", "wall s"
    );
    let mut db_times = Vec::new();
    let mut heaviest = (0.0, Vec::new());
    for cycle in 0..=args.cycles {
        // Each cycle at its time, however long the one before took.
        clock.set(start + Duration::seconds(15 * cycle as i64));
        stats.reset()?;
        let cpu = cpu_now(postmaster);
        let t = Instant::now();
        let report = rt.block_on(eval.run_once())?;
        let wall = t.elapsed().as_secs_f64();
        let pg_cpu = cpu_now(postmaster).postgres - cpu.postgres;
        let (ms, calls) = stats.total()?;
        println!(
            "{:>6} {:>6} {:>7} {:>7} {ms:>12.1} {calls:>12} {pg_cpu:>9.2} {wall:>8.2}",
            if cycle == 0 {
                "first".to_owned()
            } else {
                cycle.to_string()
            },
            report.rules,
            report.not_due,
            report.failed_rules
        );
        if report.failed_rules > 0 {
            for r in rt.block_on(store.list_rules())? {
                if let Some(e) = r.last_error {
                    eprintln!("  {}: {e}", r.spec.name);
                }
            }
        }
        if cycle > 0 {
            db_times.push(ms);
            if ms > heaviest.0 {
                heaviest = (ms, stats.top(8)?);
            }
        }
    }
    println!("\nslowest statements of the heaviest steady cycle:");
    for (ms, calls, query) in heaviest.1 {
        let q: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
        println!(
            "{ms:>10.1} ms {calls:>5}×  {}",
            q.chars().take(110).collect::<String>()
        );
    }
    let alerts = rt.block_on(store.list_alerts(&AlertFilter {
        limit: 1_000_000,
        ..AlertFilter::default()
    }))?;
    let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &alerts {
        *by_rule.entry(a.rule.as_str()).or_default() += 1;
    }
    println!("alerts the data raised: {} {by_rule:?}", alerts.len());
    db_times.sort_by(f64::total_cmp);
    if let (Some(median), Some(max)) = (db_times.get(db_times.len() / 2), db_times.last()) {
        println!(
            "\nsteady cycles: database time median {median:.0} ms, max {max:.0} ms ({} servers)",
            args.servers
        );
    }
    drop(cluster);
    Ok(())
}

/// One registration token, then every collector enrolled with one server (instance `main`)
/// created by a first small batch; the agents have checked in.
async fn enrol(
    store: &PgStore,
    args: &Args,
    families: &[&'static FamilySpec],
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    for c in pganalytics_loadgen::enrol_in_store(store, "bench", args.servers, now).await? {
        // One row of each family at the oldest time it is filled from and now: the server exists
        // and every partition the fill writes to is created by the store itself.
        let blocks: Vec<Value> = families
            .iter()
            .flat_map(|f| [(f, now - history_of(f)), (f, now)])
            .map(|(f, at)| {
                json!({"family": f.name, "instance": "main", "collected_at": at.format(&Rfc3339).unwrap_or_default(),
                       "columns": [marker_column(f)], "rows": [[MARKER]]})
            })
            .collect();
        let body = json!({
            "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": c.id.as_uuid(),
            "agent_version": "alert-bench", "collected_at": now.format(&Rfc3339)?,
            "metrics": blocks,
        });
        let vctx = ValidationContext {
            collector_id: c.id,
            now,
            limits: BatchLimits::default(),
        };
        let batch = batch::validate(batch::parse(body.to_string().as_bytes())?, &vctx)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        store.ingest(&batch, now).await?;
        store.check_in(c.id, now, None).await?;
    }
    Ok(())
}

/// The value of the rows that only made the store create servers and partitions.
const MARKER: i64 = 1_234_567_891;

fn marker_column(f: &FamilySpec) -> &'static str {
    f.columns
        .iter()
        .find(|c| matches!(c.kind, ColumnKind::Gauge | ColumnKind::Counter))
        .map_or("", |c| c.name)
}

/// Every family's rows for every server, generated by PostgreSQL (the marker rows go).
fn fill(
    url: &str,
    args: &Args,
    families: &[&'static FamilySpec],
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    use diesel::{Connection as _, RunQueryDsl as _};
    let mut conn = diesel::PgConnection::establish(url)?;
    let mut total = 0;
    for f in families {
        let cols: Vec<&str> = f.columns.iter().map(|c| c.name).collect();
        let vals: Vec<String> = f.columns.iter().map(|c| value_sql(f, c)).collect();
        let series = series_of(f, args);
        let from = now - history_of(f);
        let step = interval_of(f);
        let sql = format!(
            "INSERT INTO metrics.{name} (server_id, time, {cols}) \
             SELECT s, t, {vals} FROM unnest((SELECT array_agg(id) FROM servers)) s, \
                  generate_series(0, {last}) i, \
                  generate_series($2::timestamptz, $1::timestamptz, interval '{step} seconds') t \
             {sparse}",
            name = f.name,
            cols = cols.join(", "),
            vals = vals.join(", "),
            last = series - 1,
            // Log events are events: a few per server in the last quarter hour.
            sparse = if f.name == "pg_log_event" {
                "WHERE t > $1::timestamptz - interval '15 minutes' AND (i + s) % 5 = 0"
            } else {
                ""
            },
        );
        let t = Instant::now();
        let n = diesel::sql_query(sql)
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .bind::<diesel::sql_types::Timestamptz, _>(from)
            .execute(&mut conn)
            .with_context(|| format!("filling {}", f.name))?;
        eprintln!(
            "  {:<20} {n:>10} rows in {:>5.1} s",
            f.name,
            t.elapsed().as_secs_f64()
        );
        total += n as u64;
        diesel::sql_query(format!(
            "DELETE FROM metrics.{} WHERE {} = {MARKER}",
            f.name,
            marker_column(f)
        ))
        .execute(&mut conn)?;
    }
    diesel::sql_query("VACUUM ANALYZE").execute(&mut conn)?;
    Ok(total)
}

/// `pg_stat_statements` of the benchmark's database.
trait Stats {
    fn establish_stats(url: &str) -> anyhow::Result<Self>
    where
        Self: Sized;
    fn reset(&mut self) -> anyhow::Result<()>;
    /// (total execution ms, calls) since the reset, this session's own queries left out.
    fn total(&mut self) -> anyhow::Result<(f64, i64)>;
    fn top(&mut self, n: i64) -> anyhow::Result<Vec<(f64, i64, String)>>;
}

#[derive(diesel::QueryableByName)]
struct Top {
    #[diesel(sql_type = diesel::sql_types::Double)]
    ms: f64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    calls: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    query: String,
}

const MINE: &str = "query NOT LIKE '%pg_stat_statements%'";

impl Stats for diesel::PgConnection {
    fn establish_stats(url: &str) -> anyhow::Result<Self> {
        use diesel::{Connection as _, RunQueryDsl as _};
        let mut c = diesel::PgConnection::establish(url)?;
        diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(&mut c)?;
        Ok(c)
    }

    fn reset(&mut self) -> anyhow::Result<()> {
        use diesel::RunQueryDsl as _;
        diesel::sql_query("SELECT pg_stat_statements_reset()").execute(self)?;
        Ok(())
    }

    fn total(&mut self) -> anyhow::Result<(f64, i64)> {
        use diesel::RunQueryDsl as _;
        let r: Top = diesel::sql_query(format!(
            "SELECT coalesce(sum(total_exec_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::int8 AS calls, \
             '' AS query FROM pg_stat_statements WHERE {MINE}"
        ))
        .get_result(self)?;
        Ok((r.ms, r.calls))
    }

    fn top(&mut self, n: i64) -> anyhow::Result<Vec<(f64, i64, String)>> {
        use diesel::RunQueryDsl as _;
        let rows: Vec<Top> = diesel::sql_query(format!(
            "SELECT total_exec_time::float8 AS ms, calls::int8 AS calls, query \
             FROM pg_stat_statements WHERE {MINE} ORDER BY total_exec_time DESC LIMIT {n}"
        ))
        .load(self)?;
        Ok(rows.into_iter().map(|r| (r.ms, r.calls, r.query)).collect())
    }
}
