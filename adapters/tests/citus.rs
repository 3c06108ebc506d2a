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
}
