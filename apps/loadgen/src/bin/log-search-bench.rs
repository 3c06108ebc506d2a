//! `log-search-bench`: PostgreSQL text search against trigrams for the log-event search
//! (a measurement, not a test; it chose the index in the storage-tiers migration).
//!
//! It starts a private cluster with `pg_trgm`, fills two copies of a `pg_log_event`-shaped
//! table with the same `--events` messages (from PostgreSQL's own message shapes, with
//! random identifiers, numbers and quoted values, over `--days` days and `--servers`
//! servers), one with a GIN index on `to_tsvector('simple', message)`, the other with a
//! GIN `gin_trgm_ops` index; then it reports the load time with each index, the index
//! sizes, and the p50 / p95 of the search queries the API runs (newest first, a page of
//! 100, over the last day and over the whole range) for a common word, a rare identifier,
//! two words, and a word no message holds.

use anyhow::Context as _;
use clap::Parser;
use diesel::{Connection as _, RunQueryDsl as _};

use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_loadgen::scratch_dir;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Log search: text search against trigram indexes on the same events")]
struct Args {
    #[arg(long, default_value_t = 2_000_000)]
    events: i64,
    #[arg(long, default_value_t = 7)]
    days: i64,
    #[arg(long, default_value_t = 50)]
    servers: i64,
    /// Runs of each query.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Keep the cluster here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// Messages in PostgreSQL's shapes; `$n` is a random number, `$t` a table, `$u` a user.
const SHAPES: &[&str] = &[
    "relation \"$t\" does not exist",
    "duplicate key value violates unique constraint \"$t_pkey\"",
    "deadlock detected",
    "canceling statement due to statement timeout",
    "password authentication failed for user \"$u\"",
    "connection authorized: user=$u database=app application_name=psql",
    "checkpoint complete: wrote $n buffers (0.$n%); 0 WAL file(s) added, 0 removed, 1 recycled",
    "automatic vacuum of table \"app.public.$t\": index scans: 1",
    "temporary file: path \"base/pgsql_tmp/pgsql_tmp$n.0\", size $n",
    "process $n still waiting for ShareLock on transaction $n after 1000.$n ms",
    "could not serialize access due to concurrent update",
    "invalid input syntax for type integer: \"?\"",
    "duration: $n.$n ms  statement: SELECT * FROM $t WHERE id = $1",
    "terminating connection due to idle-in-transaction timeout",
    "value too long for type character varying($n)",
];

#[derive(diesel::QueryableByName)]
struct Size {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

fn exec(conn: &mut diesel::PgConnection, sql: &str) -> anyhow::Result<f64> {
    use diesel::connection::SimpleConnection as _;
    let t = Instant::now();
    conn.batch_execute(sql)
        .with_context(|| sql.chars().take(120).collect::<String>())?;
    Ok(t.elapsed().as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-log-search-bench", args.data_dir.as_deref())?;
    let mut opts = ClusterOptions::new(dir.join("pg"), PgBinaries::locate(None)?);
    opts.settings = vec![
        ("shared_buffers".into(), "1GB".into()),
        ("max_wal_size".into(), "8GB".into()),
    ];
    let cluster = LocalCluster::start(opts)?;
    let mut conn = diesel::PgConnection::establish(&cluster.url("postgres"))?;
    exec(&mut conn, "CREATE EXTENSION pg_trgm")?;
    let shapes: Vec<String> = SHAPES
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    // Every placeholder gets its own random value.
    let message = "replace(replace(replace(shape, '$t', (ARRAY['orders','customers','invoices','events','audit_log','sessions','payments','stock'])[1 + (random() * 7)::int] || '_' || (random() * 500)::int), \
                   '$u', 'user' || (random() * 2000)::int), '$n', (random() * 100000)::int::text)";
    let fill = format!(
        "INSERT INTO {{table}} (time, server_id, severity, kind, message) \
         SELECT now() - random() * interval '{days} days', 1 + (random() * {servers})::int, 'ERROR', 'error', {message} \
         FROM generate_series(1, {events}) g, LATERAL (SELECT (ARRAY[{shapes}])[1 + (g % {n})] AS shape) s",
        days = args.days,
        servers = args.servers - 1,
        events = args.events,
        shapes = shapes.join(", "),
        n = SHAPES.len(),
    );
    println!(
        "log-search-bench: {} events over {} days on {} servers, {} runs per query\n",
        args.events, args.days, args.servers, args.runs
    );
    let mut loads = Vec::new();
    for (table, index) in [
        ("ev_fts", "USING gin (to_tsvector('simple', message))"),
        ("ev_trgm", "USING gin (message gin_trgm_ops)"),
    ] {
        exec(
            &mut conn,
            &format!(
                "CREATE TABLE {table} (time timestamptz NOT NULL, server_id bigint NOT NULL, severity text, \
                 kind text, message text, event_id bigserial); \
                 CREATE INDEX {table}_time ON {table} (time, event_id); \
                 CREATE INDEX {table}_search ON {table} {index}"
            ),
        )?;
        let load = exec(&mut conn, &fill.replace("{table}", table))?;
        exec(&mut conn, &format!("VACUUM ANALYZE {table}"))?;
        let size: Size = diesel::sql_query(format!(
            "SELECT pg_relation_size('{table}_search') AS bytes"
        ))
        .get_result(&mut conn)?;
        let heap: Size = diesel::sql_query(format!("SELECT pg_relation_size('{table}') AS bytes"))
            .get_result(&mut conn)?;
        loads.push((table, load, size.bytes, heap.bytes));
    }
    println!(
        "{:<8} {:>14} {:>14} {:>12}",
        "index", "load s (index)", "index MB", "table MB"
    );
    for (table, load, index, heap) in &loads {
        println!(
            "{:<8} {:>14.1} {:>14.1} {:>12.1}",
            table,
            load,
            *index as f64 / 1e6,
            *heap as f64 / 1e6
        );
    }
    let queries = [
        ("common word", "deadlock", "%deadlock%"),
        ("rare identifier", "orders_417", "%orders_417%"),
        ("two words", "statement timeout", "%statement timeout%"),
        ("no match", "zyzzyva", "%zyzzyva%"),
    ];
    println!(
        "\n{:<16} {:<10} {:>8} {:>10} {:>10}",
        "query", "window", "index", "p50 ms", "p95 ms"
    );
    for (name, words, like) in queries {
        for (window, since) in [
            ("1 day", "now() - interval '1 day'"),
            ("all", "'-infinity'"),
        ] {
            for (table, cond) in [
                (
                    "ev_fts",
                    format!(
                        "to_tsvector('simple', message) @@ plainto_tsquery('simple', '{words}')"
                    ),
                ),
                ("ev_trgm", format!("message ILIKE '{like}'")),
            ] {
                let sql = format!(
                    "SELECT * FROM {table} WHERE time >= {since} AND {cond} ORDER BY time DESC, event_id DESC LIMIT 100"
                );
                let mut times = Vec::new();
                for _ in 0..args.runs {
                    times.push(exec(&mut conn, &sql)? * 1000.0);
                }
                times.sort_by(f64::total_cmp);
                println!(
                    "{name:<16} {window:<10} {:>8} {:>10.1} {:>10.1}",
                    table.trim_start_matches("ev_"),
                    percentile(&times, 0.5),
                    percentile(&times, 0.95)
                );
            }
        }
    }
    drop(cluster);
    Ok(())
}
