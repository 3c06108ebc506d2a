//! `pganalytics-loadgen`: the ingest benchmark (a tool, not a test).
//!
//! It starts the real server in-process on a private, durable (fsync on) PostgreSQL cluster,
//! registers N collectors with CSRs, and then:
//! 1. paced: every collector pushes a zstd `pg_table` batch of `--rows` rows every
//!    `--interval` seconds over TLS 1.3 with its client certificate, for `--seconds`;
//!    reports push latency percentiles and rows/s;
//! 2. flood: `--flood-workers` collectors push `--flood-batches` batches each back to back:
//!    the ingest ceiling in rows/s;
//! 3. raw COPY: the same rows written with binary COPY into the same table by the same
//!    number of connections: the ceiling of the database itself.
//!
//! Flood and raw COPY alternate for `--rounds`, each after a checkpoint and once no
//! autovacuum worker runs (`settle`).

use anyhow::Context as _;
use clap::Parser;
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_loadgen::{
    ClientSettings, Collector, Cpu, cpu_now, enrol, rt, scratch_dir, start_server,
};
use pganalytics_server::settings::Settings;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Parser)]
#[command(about = "pgAnalytics ingest benchmark")]
struct Args {
    /// Simulated collectors in the paced phase.
    #[arg(long, default_value_t = 200)]
    collectors: usize,
    /// Seconds between one collector's pushes in the paced phase.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Length of the paced and flood phases, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Rows per batch (pg_table rows, one per table).
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Concurrent pushers in the flood phase (and COPY connections in the baseline). Each
    /// push is acknowledged after its group's commit, so a pusher is idle for a commit per
    /// push: with few pushers the flood measures that wait, not the server's capacity
    /// (docs/performance.md, "Group commit").
    #[arg(long, default_value_t = 32)]
    flood_workers: usize,
    /// Batches each flood worker pushes.
    #[arg(long, default_value_t = 40)]
    flood_batches: usize,
    /// Flood and raw COPY phases, alternated this many times: the ratio reported is the
    /// median of the rounds' (the raw COPY baseline swings with the disk from run to run).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The server's `ingest_committers` (group-commit transactions at once).
    #[arg(long, default_value_t = Settings::default().ingest_committers)]
    committers: usize,
    /// The server's `ingest_group_wait_ms`.
    #[arg(long, default_value_t = Settings::default().ingest_group_wait_ms)]
    group_wait_ms: u64,
    /// Where the cluster and server data go (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// A PostgreSQL setting for the benchmark's cluster, `name=value` (repeatable): to
    /// measure a tuning against the defaults the product's private cluster runs with.
    #[arg(long = "pg-setting", value_parser = pg_setting)]
    pg_settings: Vec<(String, String)>,
}

fn pg_setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("{s:?} is not name=value")),
    }
}

/// The collectors' HTTP clients: errors are statuses turned into `Err`.
const CLIENT: ClientSettings = ClientSettings {
    timeout: Duration::from_secs(60),
    status_as_error: true,
};

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-loadgen", args.data_dir.as_deref())?;
    let mut opts = ClusterOptions::new(dir.join("pg"), PgBinaries::locate(None)?);
    opts.max_connections = 100;
    opts.settings = args.pg_settings.clone();
    let cluster = LocalCluster::start(opts)?;
    let admin_url = cluster.url("postgres");
    let db_url = cluster.url("pganalytics");
    rt()?.block_on(pganalytics_adapters::postgres::ensure_database(
        &admin_url,
        "pganalytics",
        None,
    ))?;

    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.join("server"),
        database_url: Some(SecretString::from(db_url.clone())),
        workers: 2,
        pool_size: 16,
        ingest_committers: args.committers,
        ingest_group_wait_ms: args.group_wait_ms,
        // The benchmark measures ingest, not the rate limits.
        rate_ingest_per_second: 1_000_000,
        rate_ingest_burst: 1_000_000,
        bcrypt_cost: 4,
        allow_weak_bcrypt: true,
        ..Settings::default()
    };
    let (server, reg_token) = start_server(settings.clone(), args.collectors + args.flood_workers);
    let base = server.url("");
    let ca = std::fs::read_to_string(settings.data_dir.join("ca.pem"))?;
    eprintln!(
        "server at {base}; registering {} collectors",
        args.collectors + args.flood_workers
    );
    let collectors: Vec<Arc<Collector>> = (0..args.collectors + args.flood_workers)
        .map(|i| enrol(&base, &ca, &reg_token, &format!("load{i}"), CLIENT).map(Arc::new))
        .collect::<anyhow::Result<_>>()?;
    let (paced, flood) = collectors.split_at(args.collectors);

    println!(
        "pganalytics-loadgen: {} rows per batch, PostgreSQL at {}",
        args.rows,
        cluster.data_dir().display()
    );
    let postmaster = cluster.postmaster_pid().context("no postmaster")?;
    // A collector's first push pays for its TLS setup (a connector, the CA, a full mutual-TLS
    // handshake); a fleet's agents keep their connections (`keep_alive_seconds`). Each
    // collector pushes one one-row batch first, untimed, so that the phases measure the
    // steady state, not 1,000 handshakes at once.
    eprintln!("connecting {} collectors", collectors.len());
    for c in &collectors {
        push(&base, c, &table_batch(&c.id, 1, 0))?;
    }
    paced_phase(&base, paced, &args)?;
    let mut ratios = Vec::new();
    for round in 1..=args.rounds.max(1) {
        println!("\nround {round}");
        settle(&db_url)?;
        let flood_rate = flood_phase(&base, flood, &args, postmaster)?;
        settle(&db_url)?;
        let copy_rate = copy_phase(&db_url, &args, postmaster)?;
        println!(
            "  end-to-end flood ingest / raw binary COPY = {:.2} ({flood_rate:.0} vs {copy_rate:.0} rows/s)",
            flood_rate / copy_rate
        );
        ratios.push(flood_rate / copy_rate);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "\nend-to-end flood ingest / raw binary COPY, median of {} rounds = {:.2} (rounds: {}; target >= 0.85)",
        ratios.len(),
        ratios[ratios.len() / 2],
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(cluster);
    Ok(())
}

/// Before each timed phase: a checkpoint, then a wait (at most a minute) until no
/// autovacuum worker runs, so that neither side pays for the rows the phase before it
/// wrote (the flood came right after the paced phase, and paid for it).
fn settle(db_url: &str) -> anyhow::Result<()> {
    const AUTOVACUUM: &str =
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'";
    rt()?.block_on(async {
        let (client, conn) = tokio_postgres::connect(db_url, tokio_postgres::NoTls).await?;
        let conn = tokio::spawn(conn);
        let start = Instant::now();
        client.batch_execute("CHECKPOINT").await?;
        let checkpoint = start.elapsed();
        let (mut workers, mut running) = (0, 0);
        while start.elapsed() < Duration::from_secs(60) {
            running = client.query_one(AUTOVACUUM, &[]).await?.get::<_, i64>(0);
            if running == 0 {
                break;
            }
            workers = workers.max(running);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "  settled in {:.1} s: checkpoint {:.1} s, up to {workers} autovacuum worker(s) waited for{}",
            start.elapsed().as_secs_f64(),
            checkpoint.as_secs_f64(),
            if running > 0 { " (still running after a minute)" } else { "" }
        );
        drop(client);
        conn.await??;
        anyhow::Ok(())
    })
}

fn report_cpu(what: &str, before: Cpu, after: Cpu, batches: usize) {
    let per = |a: f64, b: f64| (b - a) * 1000.0 / batches.max(1) as f64;
    println!(
        "  CPU per 1,000-row batch ({what}): server {:.1} ms, collectors {:.1} ms, PostgreSQL {:.1} ms",
        per(before.server, after.server),
        per(before.client, after.client),
        per(before.postgres, after.postgres)
    );
}

/// A realistic pg_table batch: one row per table, every counter and gauge filled.
fn table_batch(collector: &str, rows: usize, seq: u64) -> Vec<u8> {
    let columns = [
        "datname",
        "schemaname",
        "relname",
        "seq_scan",
        "seq_tup_read",
        "idx_scan",
        "idx_tup_fetch",
        "n_tup_ins",
        "n_tup_upd",
        "n_tup_del",
        "n_tup_hot_upd",
        "n_live_tup",
        "n_dead_tup",
        "n_mod_since_analyze",
        "vacuum_count",
        "autovacuum_count",
        "analyze_count",
        "autoanalyze_count",
        "heap_blks_read",
        "heap_blks_hit",
        "idx_blks_read",
        "idx_blks_hit",
        "table_size_bytes",
        "indexes_size_bytes",
        "toast_size_bytes",
        "relfrozenxid_age",
        "last_autovacuum",
    ];
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let data: Vec<Value> = (0..rows)
        .map(|t| {
            let base = (seq * 1000 + t as u64) as i64;
            json!([
                "app",
                "public",
                format!("table_{t}"),
                base,
                base * 100,
                base * 3,
                base * 3,
                base * 7,
                base * 2,
                base / 3,
                base,
                base as f64 * 5.0 + 0.5,
                12.0,
                40.0,
                1,
                seq,
                0,
                seq,
                base * 11,
                base * 900,
                base * 2,
                base * 400,
                8192.0 * base as f64,
                4096.0 * base as f64,
                0.0,
                120_000.0,
                now
            ])
        })
        .collect();
    let batch = json!({
        "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": collector, "agent_version": "loadgen",
        "collected_at": now, "metrics": [{ "family": "pg_table", "instance": "main", "columns": columns, "rows": data }]
    });
    zstd::encode_all(&serde_json::to_vec(&batch).unwrap_or_default()[..], 3).unwrap_or_default()
}

/// Pushes whose connection failed (most often one the server had closed, idle past its
/// keep-alive) and were sent again on a new one, as an agent does from its spool.
static RESENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn push(base: &str, c: &Collector, body: &[u8]) -> anyhow::Result<()> {
    let send = || {
        c.agent
            .post(&format!("{base}/api/v1/metrics/push"))
            .header("Authorization", &format!("Bearer {}", c.token))
            .header("Content-Encoding", "zstd")
            .send(body)
    };
    let mut res = match send() {
        Err(e) if !matches!(e, ureq::Error::StatusCode(_)) => {
            RESENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            send()?
        }
        other => other?,
    };
    // Reading the acknowledgement to the end is also what lets ureq keep the connection
    // (unread, it is closed and the next push pays a full TLS handshake).
    let ack = res.body_mut().read_to_string()?;
    anyhow::ensure!(res.status() == 200, "push answered {}: {ack}", res.status());
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

type Pusher = std::thread::JoinHandle<anyhow::Result<Vec<Duration>>>;

/// A simulated collector's thread (named `pusher`, see `CLIENT_THREADS`): pushes `bodies`
/// in order, the k-th no earlier than `due(k)` when given, and returns each push's latency.
fn spawn_pusher(
    base: &str,
    c: &Arc<Collector>,
    bodies: Vec<Vec<u8>>,
    due: impl Fn(usize) -> Option<Instant> + Send + 'static,
) -> std::io::Result<Pusher> {
    let (c, base) = (c.clone(), base.to_owned());
    std::thread::Builder::new()
        .name("pusher".into())
        .spawn(move || {
            let mut lat = Vec::with_capacity(bodies.len());
            for (k, body) in bodies.iter().enumerate() {
                if let Some(due) = due(k) {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                let t = Instant::now();
                push(&base, &c, body)?;
                lat.push(t.elapsed());
            }
            pganalytics_loadgen::client_thread_done();
            Ok(lat)
        })
}

/// Every push's latency, once all the pushers are done.
fn latencies(pushers: Vec<Pusher>) -> anyhow::Result<Vec<Duration>> {
    let mut lat = Vec::new();
    for p in pushers {
        lat.extend(p.join().map_err(|_| anyhow::anyhow!("pusher panicked"))??);
    }
    Ok(lat)
}

fn paced_phase(base: &str, collectors: &[Arc<Collector>], args: &Args) -> anyhow::Result<()> {
    let per_collector = (args.seconds / args.interval).max(1);
    eprintln!(
        "preparing {} batches",
        per_collector as usize * collectors.len()
    );
    let start = Instant::now() + Duration::from_secs(1);
    let handles = collectors
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let interval = args.interval;
            let batches: Vec<Vec<u8>> = (0..per_collector)
                .map(|s| table_batch(&c.id, args.rows, s))
                .collect();
            let offset =
                Duration::from_millis((i as u64 * interval * 1000) / collectors.len() as u64);
            spawn_pusher(base, c, batches, move |k| {
                Some(start + offset + Duration::from_secs(interval * k as u64))
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut lat = latencies(handles)?;
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "paced: {} collectors x {} rows every {} s for {} s: {} pushes ({} sent again on a new connection), {:.0} rows/s, latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        collectors.len(),
        args.rows,
        args.interval,
        args.seconds,
        lat.len(),
        RESENT.load(std::sync::atomic::Ordering::Relaxed),
        (lat.len() * args.rows) as f64 / elapsed,
        percentile(&lat, 0.50),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    Ok(())
}

fn flood_phase(
    base: &str,
    workers: &[Arc<Collector>],
    args: &Args,
    postmaster: i32,
) -> anyhow::Result<f64> {
    // Pre-built bodies (distinct batch ids) so the client's JSON and zstd work is not timed;
    // the phase is a fixed amount of work timed to completion.
    let per_worker = args.flood_batches;
    let pool: Vec<Vec<Vec<u8>>> = workers
        .iter()
        .map(|c| {
            (0..per_worker)
                .map(|s| table_batch(&c.id, args.rows, 1000 + s as u64))
                .collect()
        })
        .collect();
    eprintln!("flood: pushing {} batches", per_worker * workers.len());
    let cpu_before = cpu_now(postmaster);
    let start = Instant::now();
    let handles = workers
        .iter()
        .zip(pool)
        .map(|(c, bodies)| spawn_pusher(base, c, bodies, |_| None))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut lat = latencies(handles)?;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_after = cpu_now(postmaster);
    lat.sort();
    let rate = (lat.len() * args.rows) as f64 / elapsed;
    println!(
        "flood: {} concurrent collectors back to back: {} pushes in {elapsed:.1} s, {rate:.0} rows/s end to end, latency p50 {:.1} ms, p99 {:.1} ms",
        workers.len(),
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    report_cpu("end to end", cpu_before, cpu_after, lat.len());
    Ok(rate)
}

/// Binary COPY of the same rows into the same partitioned table, `flood_workers` connections,
/// as many as the flood phase pushed.
fn copy_phase(db_url: &str, args: &Args, postmaster: i32) -> anyhow::Result<f64> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};
    // The same number of rows as the flood phase pushed.
    let batches_per_conn = args.flood_batches;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("copy-client")
        // Its CPU time is kept when the runtime's threads end (see `cpu_now`).
        .on_thread_stop(pganalytics_loadgen::client_thread_done)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cpu_before = cpu_now(postmaster);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..args.flood_workers {
            let (url, rows) = (db_url.to_owned(), args.rows);
            tasks.push(tokio::spawn(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                let mut types = vec![Type::TIMESTAMPTZ, Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT];
                types.extend([Type::INT8; 8]);
                types.extend([Type::FLOAT8; 3]);
                types.extend([Type::INT8; 8]);
                types.extend([Type::FLOAT8; 4]);
                types.push(Type::TIMESTAMPTZ);
                let sql = "COPY metrics.pg_table (time, server_id, datname, schemaname, relname, seq_scan, seq_tup_read, idx_scan, \
                           idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze, \
                           vacuum_count, autovacuum_count, analyze_count, autoanalyze_count, heap_blks_read, heap_blks_hit, idx_blks_read, \
                           idx_blks_hit, table_size_bytes, indexes_size_bytes, toast_size_bytes, relfrozenxid_age, last_autovacuum) \
                           FROM STDIN (FORMAT binary)";
                for s in 0..batches_per_conn {
                    let sink = client.copy_in(sql).await?;
                    let writer = BinaryCopyInWriter::new(sink, &types);
                    futures_util::pin_mut!(writer);
                    let now = OffsetDateTime::now_utc();
                    for t in 0..rows {
                        let base = (s * 1000 + t) as i64;
                        let (server, relname) = (-(w as i64) - 1, format!("table_{t}"));
                        let (live, dead, modsa) = (base as f64 * 5.0 + 0.5, 12.0f64, 40.0f64);
                        let ints = [base, base * 100, base * 3, base * 3, base * 7, base * 2, base / 3, base];
                        let ints2 = [1i64, s as i64, 0, s as i64, base * 11, base * 900, base * 2, base * 400];
                        let floats = [8192.0 * base as f64, 4096.0 * base as f64, 0.0, 120_000.0];
                        let mut row: Vec<&(dyn ToSql + Sync)> = vec![&now, &server, &"app", &"public", &relname];
                        row.extend(ints.iter().map(|v| v as &(dyn ToSql + Sync)));
                        row.extend([&live as &(dyn ToSql + Sync), &dead, &modsa]);
                        row.extend(ints2.iter().map(|v| v as &(dyn ToSql + Sync)));
                        row.extend(floats.iter().map(|v| v as &(dyn ToSql + Sync)));
                        row.push(&now);
                        writer.as_mut().write(&row).await?;
                    }
                    writer.finish().await?;
                }
                drop(client);
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let rate = (args.flood_workers * batches_per_conn * args.rows) as f64 / start.elapsed().as_secs_f64();
        println!("raw binary COPY: {} connections, {} rows each: {rate:.0} rows/s", args.flood_workers, batches_per_conn * args.rows);
        report_cpu("raw COPY", cpu_before, cpu_now(postmaster), args.flood_workers * batches_per_conn);
        Ok(rate)
    })
}
