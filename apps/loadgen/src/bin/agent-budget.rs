//! `agent-budget`: the agent's resource budget on a database with many tables, side by side
//! with `prometheus-postgres-exporter` (when installed), and the log parser's throughput on a
//! real 1M-line stderr log (and pgBadger's, when installed). A benchmark, not a test:
//! `cargo run --release -p pganalytics-loadgen --bin agent-budget` (build the agent in
//! release first: `cargo build --release -p pganalytics-agent`).
//!
//! 1. A private PostgreSQL cluster with `--tables` tables, each with a primary key and one
//!    more index, and `pg_stat_statements`.
//! 2. The real server in-process; the real agent binary registered and run as a daemon with
//!    every group every 60 s. After its first full cycle, the CPU (user + system) it uses
//!    during the next 60 s and its peak RSS are read from /proc, and each collector's SQL
//!    time from its Prometheus endpoint.
//! 3. The exporter scraping the same database with per-table queries: RSS, CPU and wall
//!    time per scrape.
//! 4. `--log-lines` lines of stderr log written by the cluster with
//!    `log_min_duration_statement = 0`, then tailed and parsed on one thread: lines/s and
//!    the RSS growth.

use anyhow::Context as _;
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_adapters::logs::{LogTailer, TailOptions};
use pganalytics_domain::logs::{LogFormat, LogParser};
use pganalytics_loadgen::{scratch_dir, start_server, ticks_of};
use pganalytics_server::settings::Settings;
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "pgAnalytics agent resource budget")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    tables: usize,
    /// Log lines to write and parse (0: skip the log phase).
    #[arg(long, default_value_t = 1_000_000)]
    log_lines: usize,
    /// The agent binary (default: next to this one).
    #[arg(long)]
    agent: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only the log phase.
    #[arg(long)]
    only_logs: bool,
    /// Partitioned tables to create besides `--tables`, each with `--partitions` partitions
    /// and a primary key (so 2 × (partitions + 1) relations each).
    #[arg(long, default_value_t = 0)]
    partitioned: usize,
    #[arg(long, default_value_t = 1_000)]
    partitions: usize,
    /// Only the catalog: the agent with every group every 60 s (its table and index
    /// collectors' SQL time, rows and peak RSS, and the in-process server's peak RSS), no
    /// exporter and no log phase.
    #[arg(long)]
    catalog_only: bool,
    /// Keep partitions as rows of their own (`[catalog] rollup_partitions = false`).
    #[arg(long)]
    no_rollup: bool,
    /// With `--catalog-only`: measure a database built before (by this benchmark or the
    /// same statements) instead of building one; the server's database goes next to it.
    #[arg(long)]
    existing: Option<String>,
}

const PREFIX: &str = "%m [%p] %q%u@%d ";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-budget", args.data_dir.as_deref())?;
    if let Some(url) = &args.existing {
        anyhow::ensure!(args.catalog_only, "--existing goes with --catalog-only");
        let agent_bin = std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("pganalytics-agent");
        println!("agent-budget: the catalog of {url}");
        return agent_phase(&dir, url, &agent_bin, true, args.no_rollup);
    }
    let agent_bin = match &args.agent {
        Some(a) => a.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("pganalytics-agent"),
    };
    anyhow::ensure!(
        agent_bin.is_file(),
        "{} is missing: cargo build --release -p pganalytics-agent",
        agent_bin.display()
    );

    let mut opts = ClusterOptions::new(dir.join("pg"), PgBinaries::locate(None)?);
    opts.fsync = false;
    opts.settings = [
        ("shared_preload_libraries", "pg_stat_statements"),
        ("logging_collector", "on"),
        ("log_directory", "log"),
        ("log_line_prefix", PREFIX),
        ("lc_messages", "C"),
        ("log_timezone", "UTC"),
        // One file for the whole log phase.
        ("log_rotation_size", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let cluster = LocalCluster::start(opts)?;
    let url = cluster.url("postgres");
    let started = Instant::now();
    create_tables(&url, if args.only_logs { 2 } else { args.tables })?;
    let tables = if args.only_logs { 2 } else { args.tables };
    if !args.only_logs {
        create_partitioned(&url, args.partitioned, args.partitions)?;
    }
    let relations = 3 * tables + 2 * args.partitioned * (args.partitions + 1);
    println!(
        "agent-budget: {tables} tables and {} partitioned tables × {} partitions, {relations} relations with their indexes, created in {:.0} s (PostgreSQL {})",
        args.partitioned,
        args.partitions,
        started.elapsed().as_secs_f64(),
        cluster.data_dir().display()
    );

    if args.catalog_only {
        return agent_phase(&dir, &url, &agent_bin, true, args.no_rollup);
    }
    if !args.only_logs {
        agent_phase(&dir, &url, &agent_bin, false, args.no_rollup)?;
        exporter_phase(&url, args.tables)?;
    }
    if args.log_lines > 0 {
        log_phase(&cluster, &url, args.log_lines)?;
    }
    Ok(())
}

fn create_tables(url: &str, tables: usize) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")?;
    // A hundred tables per statement string: one transaction each, within the lock table.
    for chunk in (0..tables).collect::<Vec<_>>().chunks(100) {
        let sql: String = chunk
            .iter()
            .map(|i| {
                format!(
                    "CREATE TABLE t{i} (id bigint PRIMARY KEY, v text, at timestamptz); \
                     CREATE INDEX t{i}_at ON t{i} (at); INSERT INTO t{i} VALUES (1, 'x', now());"
                )
            })
            .collect();
        conn.batch_execute(&sql)?;
    }
    conn.batch_execute("ANALYZE")?;
    Ok(())
}

/// `count` partitioned tables of `partitions` partitions each, every one with a primary key
/// (a partitioned index and one index per partition), a few rows in each partition.
fn create_partitioned(url: &str, count: usize, partitions: usize) -> anyhow::Result<()> {
    for p in 0..count {
        // A session per table: one that created 200,000 relations spends most of its time
        // on its own cache (a table took a minute instead of 3 s).
        let mut conn = PgConnection::establish(url)?;
        // One DO block per table, committing every 100 partitions (within the lock table);
        // a statement of its own, as a COMMIT inside a multi-statement string cannot be.
        conn.batch_execute(&format!(
            "CREATE TABLE m{p} (id bigint PRIMARY KEY, at timestamptz, v int) \
             PARTITION BY RANGE (id)"
        ))?;
        conn.batch_execute(&format!(
            "DO $$ BEGIN
               FOR i IN 0..{last} LOOP
                 EXECUTE format('CREATE TABLE m{p}_%s PARTITION OF m{p} \
                                 FOR VALUES FROM (%s) TO (%s)', i, i * 1000, (i + 1) * 1000);
                 IF i % 100 = 99 THEN COMMIT; END IF;
               END LOOP;
             END $$",
            last = partitions.saturating_sub(1),
        ))?;
        conn.batch_execute(&format!(
            "INSERT INTO m{p} SELECT g, now(), 1 FROM generate_series(0, {rows}, 97) g",
            rows = partitions * 1000 - 1,
        ))?;
    }
    if count > 0 {
        PgConnection::establish(url)?.batch_execute("ANALYZE")?;
    }
    Ok(())
}

/// (CPU seconds, peak RSS bytes, current RSS bytes) of a process.
fn usage(pid: u32) -> Option<(f64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, _, cpu, _) = ticks_of(&stat)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some((cpu, kb("VmHWM:")?, kb("VmRSS:")?))
}

fn agent_phase(
    dir: &Path,
    url: &str,
    agent_bin: &Path,
    catalog_only: bool,
    no_rollup: bool,
) -> anyhow::Result<()> {
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.join("server"),
        database_url: Some(SecretString::from(
            url.replace("/postgres?", "/pganalytics?"),
        )),
        workers: 1,
        pool_size: 4,
        // The benchmark measures ingest, not the rate limits.
        rate_ingest_per_second: 1_000_000,
        rate_ingest_burst: 1_000_000,
        bcrypt_cost: 4,
        allow_weak_bcrypt: true,
        ..Settings::default()
    };
    pganalytics_loadgen::rt()?.block_on(pganalytics_adapters::postgres::ensure_database(
        url,
        "pganalytics",
        None,
    ))?;
    let (server, token) = start_server(settings.clone(), 1);
    let state = dir.join("agent");
    let out = Command::new(agent_bin)
        .args(["register", "--server", &server.url("")])
        .arg("--ca-file")
        .arg(settings.data_dir.join("ca.pem"))
        // Named after this run: a database measured before (--existing) keeps the last one.
        .args([
            "--name",
            &format!("budget-{}", std::process::id()),
            "--state-dir",
        ])
        .arg(&state)
        .env("PGANALYTICS_AGENT_REGISTRATION_TOKEN", token)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "register: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let extra: Vec<(String, String)> = if no_rollup {
        vec![(
            "PGANALYTICS_AGENT_CATALOG__ROLLUP_PARTITIONS".into(),
            "false".into(),
        )]
    } else {
        Vec::new()
    };
    // Default intervals: the minute measured holds activity four times and database,
    // replication and host once (tables, indexes, statements and disk run every 5 minutes,
    // at start). Then the worst case: every group every minute.
    if !catalog_only {
        measure(agent_bin, &state, url, None, &extra, "default intervals")?;
    }
    let server_peak = usage(std::process::id()).map_or(0, |(_, peak, _)| peak);
    measure(
        agent_bin,
        &state,
        url,
        Some("60"),
        &extra,
        "every group every 60 s",
    )?;
    let after = usage(std::process::id()).map_or(0, |(_, peak, _)| peak);
    println!(
        "  the server (in this process): peak RSS {:.1} MB, {:+.1} MB while the agent ran",
        after as f64 / 1e6,
        (after as f64 - server_peak as f64) / 1e6
    );
    Ok(())
}

fn measure(
    agent_bin: &Path,
    state: &Path,
    url: &str,
    every: Option<&str>,
    extra: &[(String, String)],
    label: &str,
) -> anyhow::Result<()> {
    let intervals: Vec<(String, String)> = every
        .map(|secs| {
            pganalytics_domain::catalog::Group::ALL
                .iter()
                .map(|g| {
                    let group = g.as_str().to_ascii_uppercase();
                    (
                        format!("PGANALYTICS_AGENT_INTERVALS__{group}"),
                        secs.to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut agent = Command::new(agent_bin)
        .arg("run")
        .arg("--state-dir")
        .arg(state)
        .env("PGANALYTICS_AGENT_DSN", url)
        .env("PGANALYTICS_AGENT_PROMETHEUS_LISTEN", "127.0.0.1:19187")
        .env("PGANALYTICS_AGENT_LOG_FORMAT", "json")
        .envs(intervals)
        .envs(extra.iter().cloned())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = agent.id();
    // Everything runs at start; measure the minute from 30 s to 90 s.
    std::thread::sleep(Duration::from_secs(30));
    let (cpu0, _, _) = usage(pid).context("agent gone")?;
    std::thread::sleep(Duration::from_secs(60));
    let (cpu1, peak, rss) = usage(pid).context("agent gone")?;
    let metrics = ureq::get("http://127.0.0.1:19187/metrics")
        .call()?
        .body_mut()
        .read_to_string()?;
    stop(&mut agent);
    println!("\nagent ({label}):");
    println!(
        "  CPU in the minute from 30 s to 90 s: {:.0} ms; RSS {:.1} MB (peak {:.1} MB)",
        (cpu1 - cpu0) * 1000.0,
        rss as f64 / 1e6,
        peak as f64 / 1e6
    );
    if every.is_none() {
        return Ok(());
    }
    println!("  SQL time and rows per collector (last run):");
    let figure = |name: &str, collector: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| l.contains(&format!("collector=\"{collector}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let mut collectors: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("pganalytics_agent_collector_duration_seconds{"))
        .filter_map(|l| l.split("collector=\"").nth(1)?.split('"').next())
        .filter(|c| c.starts_with("pg_"))
        .collect();
    collectors.dedup();
    for c in collectors {
        println!(
            "    {c:<22} {:>8.1} ms {:>8} rows",
            figure("pganalytics_agent_collector_duration_seconds", c) * 1000.0,
            figure("pganalytics_agent_collector_rows", c)
        );
    }
    Ok(())
}

fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
}

/// The per-table queries commonly added to the exporter (its documented queries.yaml).
const EXPORTER_QUERIES: &str = r#"
pg_stat_user_tables:
  query: "SELECT current_database() datname, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze, COALESCE(last_vacuum, '1970-01-01Z') as last_vacuum, COALESCE(last_autovacuum, '1970-01-01Z') as last_autovacuum, COALESCE(last_analyze, '1970-01-01Z') as last_analyze, COALESCE(last_autoanalyze, '1970-01-01Z') as last_autoanalyze, vacuum_count, autovacuum_count, analyze_count, autoanalyze_count FROM pg_stat_user_tables"
  metrics:
    - datname: {usage: "LABEL", description: "database"}
    - schemaname: {usage: "LABEL", description: "schema"}
    - relname: {usage: "LABEL", description: "table"}
    - seq_scan: {usage: "COUNTER", description: "seq scans"}
    - seq_tup_read: {usage: "COUNTER", description: "rows read by seq scans"}
    - idx_scan: {usage: "COUNTER", description: "index scans"}
    - idx_tup_fetch: {usage: "COUNTER", description: "rows fetched by index scans"}
    - n_tup_ins: {usage: "COUNTER", description: "inserted"}
    - n_tup_upd: {usage: "COUNTER", description: "updated"}
    - n_tup_del: {usage: "COUNTER", description: "deleted"}
    - n_tup_hot_upd: {usage: "COUNTER", description: "HOT updated"}
    - n_live_tup: {usage: "GAUGE", description: "live rows"}
    - n_dead_tup: {usage: "GAUGE", description: "dead rows"}
    - n_mod_since_analyze: {usage: "GAUGE", description: "modified since analyze"}
    - last_vacuum: {usage: "GAUGE", description: "last vacuum"}
    - last_autovacuum: {usage: "GAUGE", description: "last autovacuum"}
    - last_analyze: {usage: "GAUGE", description: "last analyze"}
    - last_autoanalyze: {usage: "GAUGE", description: "last autoanalyze"}
    - vacuum_count: {usage: "COUNTER", description: "vacuums"}
    - autovacuum_count: {usage: "COUNTER", description: "autovacuums"}
    - analyze_count: {usage: "COUNTER", description: "analyzes"}
    - autoanalyze_count: {usage: "COUNTER", description: "autoanalyzes"}
pg_statio_user_tables:
  query: "SELECT current_database() datname, schemaname, relname, heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit FROM pg_statio_user_tables"
  metrics:
    - datname: {usage: "LABEL", description: "database"}
    - schemaname: {usage: "LABEL", description: "schema"}
    - relname: {usage: "LABEL", description: "table"}
    - heap_blks_read: {usage: "COUNTER", description: "heap blocks read"}
    - heap_blks_hit: {usage: "COUNTER", description: "heap blocks hit"}
    - idx_blks_read: {usage: "COUNTER", description: "index blocks read"}
    - idx_blks_hit: {usage: "COUNTER", description: "index blocks hit"}
    - toast_blks_read: {usage: "COUNTER", description: "toast blocks read"}
    - toast_blks_hit: {usage: "COUNTER", description: "toast blocks hit"}
    - tidx_blks_read: {usage: "COUNTER", description: "toast index blocks read"}
    - tidx_blks_hit: {usage: "COUNTER", description: "toast index blocks hit"}
"#;

fn exporter_phase(url: &str, tables: usize) -> anyhow::Result<()> {
    let Ok(bin) = which("prometheus-postgres-exporter") else {
        println!("\nprometheus-postgres-exporter is not installed: comparison skipped");
        return Ok(());
    };
    let queries = std::env::temp_dir().join(format!("budget-queries-{}.yaml", std::process::id()));
    std::fs::write(&queries, EXPORTER_QUERIES)?;
    let dsn = format!("{url}&sslmode=disable");
    let mut exporter = Command::new(bin)
        .args(["--web.listen-address=127.0.0.1:19188", "--log.level=error"])
        .arg(format!("--extend.query-path={}", queries.display()))
        .env("DATA_SOURCE_NAME", dsn)
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let pid = exporter.id();
    let scrape = || -> anyhow::Result<(Duration, usize)> {
        let t = Instant::now();
        let body = ureq::get("http://127.0.0.1:19188/metrics")
            .call()?
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()?;
        Ok((
            t.elapsed(),
            body.lines()
                .filter(|l| l.starts_with("pg_stat_user_tables_seq_scan"))
                .count(),
        ))
    };
    scrape()?; // warm-up
    let (cpu0, _, _) = usage(pid).context("exporter gone")?;
    let mut wall = Duration::ZERO;
    let mut series = 0;
    for _ in 0..3 {
        let (d, n) = scrape()?;
        wall += d;
        series = n;
    }
    let (cpu1, peak, rss) = usage(pid).context("exporter gone")?;
    stop(&mut exporter);
    let _ = std::fs::remove_file(queries);
    println!(
        "\nprometheus-postgres-exporter (per-table queries, {series} of {tables} tables exported):\n  \
         CPU per scrape {:.0} ms, wall time per scrape {:.0} ms; RSS {:.1} MB (peak {:.1} MB)",
        (cpu1 - cpu0) * 1000.0 / 3.0,
        wall.as_secs_f64() * 1000.0 / 3.0,
        rss as f64 / 1e6,
        peak as f64 / 1e6
    );
    Ok(())
}

fn which(name: &str) -> anyhow::Result<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .context("not found")
}

fn self_rss() -> u64 {
    usage(std::process::id()).map_or(0, |(_, _, rss)| rss)
}

fn log_phase(cluster: &LocalCluster, url: &str, lines: usize) -> anyhow::Result<()> {
    let log_dir = cluster.data_dir().join("log");
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute("SELECT pg_rotate_logfile()")?;
    std::thread::sleep(Duration::from_millis(1500));
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute("SET log_min_duration_statement = 0")?;
    // Extended protocol: parse, bind and execute are each logged with their duration, and
    // the parameters as DETAIL lines; every tenth statement spans lines.
    let started = Instant::now();
    let mut written = 0usize;
    let mut i = 0u64;
    while written < lines {
        if i.is_multiple_of(10) {
            diesel::sql_query("SELECT id, v\n  FROM t1\n WHERE id = $1 AND v <> $2")
                .bind::<diesel::sql_types::BigInt, _>(i as i64)
                .bind::<diesel::sql_types::Text, _>("secret value")
                .execute(&mut conn)?;
            written += 9;
        } else {
            diesel::sql_query("SELECT $1::bigint + 1 AS n")
                .bind::<diesel::sql_types::BigInt, _>(i as i64)
                .execute(&mut conn)?;
            written += 5;
        }
        i += 1;
    }
    drop(conn);
    std::thread::sleep(Duration::from_secs(2));
    let newest = std::fs::read_dir(&log_dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .context("no log file")?
        .path();
    let bytes = std::fs::metadata(&newest)?.len();
    let counted = std::fs::read(&newest)?
        .iter()
        .filter(|b| **b == b'\n')
        .count();
    println!(
        "\nlog: {counted} lines ({:.0} MB) of stderr log written in {:.0} s by {i} statements",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let rss_before = self_rss();
    let cpu_before = thread_cpu();
    let t = Instant::now();
    let mut tailer = LogTailer::open(
        TailOptions {
            path: newest.clone(),
            suffix: ".log".into(),
            max_line: 64 * 1024,
            from_beginning: true,
        },
        None,
    )?;
    let mut parser = LogParser::new(LogFormat::Stderr, PREFIX);
    let (mut read, mut events) = (0usize, 0usize);
    loop {
        let out = tailer.read(100_000, |l| events += usize::from(parser.push(l).is_some()))?;
        read += out.lines;
        if out.lines == 0 {
            break;
        }
    }
    events += parser.flush().len();
    let secs = t.elapsed().as_secs_f64();
    let cpu = thread_cpu() - cpu_before;
    println!(
        "  agent parser (one thread): {read} lines, {events} events in {secs:.2} s = {:.0} lines/s \
         ({:.0} lines per CPU second); RSS {:.1} MB before, {:.1} MB after",
        read as f64 / secs,
        read as f64 / cpu.max(1e-9),
        rss_before as f64 / 1e6,
        self_rss() as f64 / 1e6
    );
    if let Ok(pgbadger) = which("pgbadger") {
        let t = Instant::now();
        let out = Command::new(pgbadger)
            .args(["-j", "1", "-q", "-f", "stderr", "-p", PREFIX, "-o"])
            .arg(std::env::temp_dir().join("budget-pgbadger.html"))
            .arg(&newest)
            .output()?;
        if out.status.success() {
            let secs = t.elapsed().as_secs_f64();
            println!(
                "  pgBadger (-j 1) on the same file: {secs:.1} s = {:.0} lines/s",
                counted as f64 / secs
            );
        }
    }
    Ok(())
}

/// CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    ticks_of(&stat).map_or(0.0, |(_, _, s, _)| s)
}
