//! The schema distributed with Citus (`docs/scaling/citus.sql`) on a coordinator and two
//! workers on loopback: migrations, distribution, then the store contract's storage clauses
//! (ingest, late and replayed batches, rollups, retention, top statements, log search)
//! through the unchanged PostgreSQL store on the coordinator, and old partitions moved to
//! Citus' columnar access method with the bytes per server per day before and after.
//!
//! Runs when `PGANALYTICS_TEST_CITUS_BINDIR` points at the `bin` directory of a PostgreSQL
//! installation with the citus extension (Citus is not in Debian's archive: build it from
//! source, see docs/scaling.md); otherwise it says that it did not run.

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, RunQueryDsl as _};
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use std::path::PathBuf;

const DISTRIBUTE: &str = include_str!("../../docs/scaling/citus.sql");

struct Citus {
    coordinator: LocalCluster,
    workers: Vec<(LocalCluster, u16)>,
    coordinator_port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn node(dir: &std::path::Path, name: &str, bindir: &std::path::Path) -> (LocalCluster, u16) {
    let port = free_port();
    let mut opts = ClusterOptions::new(
        dir.join(name),
        PgBinaries::locate(Some(bindir))
            .expect("PostgreSQL binaries in PGANALYTICS_TEST_CITUS_BINDIR"),
    );
    opts.fsync = false;
    opts.port = port;
    opts.max_connections = 200;
    opts.settings = vec![
        ("shared_preload_libraries".into(), "citus".into()),
        ("listen_addresses".into(), "127.0.0.1".into()),
        // Loopback only; and run as root, the server's HOME is root's, whose client
        // certificate files libpq would otherwise try (and fail) to read.
        ("citus.node_conninfo".into(), "sslmode=disable".into()),
        // Citus runs a maintenance worker per database; the test makes ten.
        ("max_worker_processes".into(), "32".into()),
    ];
    let cluster = LocalCluster::start(opts).unwrap_or_else(|e| {
        panic!(
            "starting Citus node {name}: {e} (is citus installed for {}?)",
            bindir.display()
        )
    });
    (cluster, port)
}

fn start(bindir: &std::path::Path) -> Citus {
    let dir = tempfile::Builder::new()
        .prefix("pganalytics-citus")
        .tempdir()
        .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let (coordinator, coordinator_port) = node(dir.path(), "coordinator", bindir);
    let workers = (1..=2)
        .map(|i| node(dir.path(), &format!("worker{i}"), bindir))
        .collect();
    Citus {
        coordinator,
        workers,
        coordinator_port,
        _dir: dir,
    }
}

fn exec(url: &str, sql: &str) {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    conn.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{e}\nin: {}", sql.chars().take(200).collect::<String>()));
}

/// A fresh database on every node with citus, the workers added, migrated and distributed;
/// the coordinator's URL.
fn database(c: &Citus, name: &str) -> String {
    for n in std::iter::once(&c.coordinator).chain(c.workers.iter().map(|(w, _)| w)) {
        exec(&n.url("postgres"), &format!("CREATE DATABASE {name}"));
        exec(&n.url(name), "CREATE EXTENSION citus");
    }
    let url = c.coordinator.url(name);
    let mut add = format!(
        "SELECT citus_set_coordinator_host('127.0.0.1', {});",
        c.coordinator_port
    );
    for (_, port) in &c.workers {
        add.push_str(&format!("SELECT citus_add_node('127.0.0.1', {port});"));
    }
    exec(&url, &add);
    pganalytics_adapters::postgres::migrate(&url).expect("migrations on the coordinator");
    // Statement by statement, as psql runs the file: Citus wants each in a transaction of
    // its own.
    for statement in statements(DISTRIBUTE) {
        exec(&url, &statement);
    }
    url
}

/// The statements of an SQL file: each ends with `;` at the end of a line outside a
/// dollar-quoted body.
fn statements(sql: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted) = (Vec::new(), String::new(), false);
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        if line.matches("$$").count() % 2 == 1 {
            quoted = !quoted;
        }
        if !quoted && line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(url: &str, sql: &str) -> i64 {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

fn store(url: &str) -> PgStore {
    PgStore::connect(url, &PoolOptions::default()).unwrap()
}

macro_rules! clauses {
    ($citus:expr; $($clause:ident),*) => {$(
        let url = tokio::task::block_in_place(|| {
            database(&$citus, stringify!($clause).get(..40).unwrap_or(stringify!($clause)))
        });
        eprintln!("citus: {}", stringify!($clause));
        pganalytics_ports::contract::$clause(store(&url)).await;
    )*};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_distributes_with_citus_and_the_store_works_unchanged_on_a_coordinator() {
    let Some(bindir) = std::env::var_os("PGANALYTICS_TEST_CITUS_BINDIR").map(PathBuf::from) else {
        eprintln!(
            "citus: NOT RUN — set PGANALYTICS_TEST_CITUS_BINDIR to the bin directory of a \
             PostgreSQL with the citus extension (docs/scaling.md) to run it"
        );
        return;
    };
    let citus = start(&bindir);
    // Migrations and the distribution are blocking work (their own runtime).
    let url = tokio::task::block_in_place(|| database(&citus, "layout"));
    // Every family in every tier, and the late-hour marks, are distributed and co-located;
    // the metadata are reference tables.
    let distributed = tokio::task::block_in_place(|| {
        count(
            &url,
            "SELECT count(*)::bigint AS n FROM pg_dist_partition WHERE partmethod = 'h' \
         AND colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'metrics.pg_database'::regclass)",
        )
    });
    let families = pganalytics_domain::catalog::FAMILIES.len() as i64;
    assert_eq!(distributed, 3 * families + 1);
    assert!(
        count(
            &url,
            "SELECT count(*)::bigint AS n FROM pg_dist_partition WHERE partmethod = 'n'"
        ) >= 10
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(DISTINCT nodeport)::bigint AS n FROM pg_dist_shard_placement"
        ),
        3,
        "shards on both workers (reference tables on the coordinator too)"
    );
    clauses!(citus;
        ingest_stores_rows_and_creates_one_server_per_instance,
        a_replayed_batch_writes_nothing_and_returns_the_original_counts,
        rollups_equal_the_raw_rows_of_every_family_after_late_and_replayed_batches,
        retention_drops_exactly_the_expired_partitions_of_each_tier,
        top_statements_over_a_range_match_a_direct_sum,
        log_search_filters_and_pages_without_gaps_or_duplicates,
        retention_choices_are_stored_audited_and_forgotten
    );
    columnar_partitions_take_less_room(&citus).await;
}

/// Raw rows of 10 days on 3 servers (`sys_cpu` every 15 s, `pg_database` every 60 s with
/// 3 databases), then the partitions that ended two days ago or earlier moved to columnar: the bytes per
/// server per day before and after, printed (docs/scaling.md quotes them).
async fn columnar_partitions_take_less_room(citus: &Citus) {
    use pganalytics_ports::store::TierStore as _;
    let url = tokio::task::block_in_place(|| database(citus, "columnar"));
    let now = time::OffsetDateTime::now_utc();
    let today = now.date();
    let mut sql = String::new();
    for d in 0..10 {
        let day = today - time::Duration::days(d);
        for f in ["sys_cpu", "pg_database"] {
            sql.push_str(&format!(
                "CREATE TABLE metrics.{f}_p{} PARTITION OF metrics.{f} FOR VALUES FROM ('{day}') TO ('{}');",
                day.to_string().replace('-', ""),
                day + time::Duration::days(1)
            ));
        }
    }
    sql.push_str(&format!(
        "INSERT INTO metrics.sys_cpu (time, server_id, cpu, user_ms, system_ms, idle_ms, iowait_ms) \
         SELECT t, s, 'all', (extract(epoch FROM t) * 40)::bigint + s, (extract(epoch FROM t) * 9)::bigint, \
                (extract(epoch FROM t) * 700)::bigint, (extract(epoch FROM t) * 3)::bigint \
         FROM generate_series(1, 3) s, generate_series('{today}'::timestamptz - interval '9 days', '{today}'::timestamptz + interval '1 day' - interval '1 second', interval '15 seconds') t;\
         INSERT INTO metrics.pg_database (time, server_id, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched, size_bytes) \
         SELECT t, s, 'db' || d, 10 + d, (extract(epoch FROM t) * 50)::bigint, (extract(epoch FROM t) / 10)::bigint, \
                (extract(epoch FROM t) * 3)::bigint, (extract(epoch FROM t) * 900)::bigint, (extract(epoch FROM t) * 2000)::bigint, \
                (extract(epoch FROM t) * 800)::bigint, 1e9 + d * 1e6 \
         FROM generate_series(1, 3) s, generate_series(1, 3) d, generate_series('{today}'::timestamptz - interval '9 days', '{today}'::timestamptz + interval '1 day' - interval '1 second', interval '60 seconds') t;"
    ));
    tokio::task::block_in_place(|| exec(&url, &sql));
    let bytes = || {
        tokio::task::block_in_place(|| {
            count(
                &url,
                "SELECT sum(citus_total_relation_size(i.inhrelid))::bigint AS n FROM pg_inherits i \
                 WHERE i.inhparent IN ('metrics.sys_cpu'::regclass, 'metrics.pg_database'::regclass) \
                 AND i.inhrelid::regclass::text < 'metrics.zzz'",
            )
        })
    };
    let before = bytes();
    let store = store(&url);
    let moved = store
        .compress_partitions(pganalytics_domain::rollup::day_start(today) - time::Duration::days(2))
        .await
        .unwrap();
    let after = bytes();
    // Per server and day: 10 heap days before; 3 heap days and 7 columnar ones after.
    let heap_day = before as f64 / 30.0;
    let columnar_day = (after as f64 - 9.0 * heap_day) / 21.0;
    eprintln!(
        "citus columnar: sys_cpu + pg_database, bytes per server per day (indexes included): \
         {heap_day:.0} as heap, {columnar_day:.0} as columnar ({:.1}× smaller); {moved} partitions moved",
        heap_day / columnar_day
    );
    // The partitions that ended two days ago or earlier: 7 days of each family.
    assert_eq!(moved, 2 * 7);
    assert!(
        columnar_day * 1.5 < heap_day,
        "columnar partitions take less room: {heap_day:.0} → {columnar_day:.0}"
    );
    // Queries still read them.
    assert_eq!(
        tokio::task::block_in_place(|| count(
            &url,
            "SELECT count(*)::bigint AS n FROM metrics.sys_cpu"
        )),
        3 * 10 * 5760
    );
}
