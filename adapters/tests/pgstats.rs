//! Every PostgreSQL collector against real servers of each supported release: the SQL's
//! column types match the catalog (checked through a view, so also for views that are
//! empty here, such as a standby's), the collectors return rows, and the batch they make
//! passes the server's validation with nothing skipped.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use pganalytics_adapters::pgstats::{self, PgTarget, SessionLimits};
use pganalytics_adapters::test_clusters::{
    has_pg_stat_statements, monitored_cluster, release_binaries, standby_of,
};
use pganalytics_domain::batch::{
    BatchLimits, ValidationContext, WIRE_VERSION, WireBatch, validate,
};
use pganalytics_domain::catalog::{self, ColumnKind};
use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::config::FamilyFilter;
use pganalytics_domain::schedule::Group;
use pganalytics_ports::sources::Source;
use std::collections::BTreeMap;
use time::OffsetDateTime;

fn sql_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Label | ColumnKind::Text => "text",
        ColumnKind::Counter => "bigint",
        ColumnKind::Gauge => "double precision",
        ColumnKind::Timestamp => "timestamp with time zone",
    }
}

const WORKLOAD: &str = "
CREATE DATABASE app;
";

const APP_SCHEMA: &str = "
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text UNIQUE, balance numeric, note text);
INSERT INTO accounts (name, balance, note)
    SELECT 'user' || g, g * 10, repeat('x', 3000) FROM generate_series(1, 2000) g;
CREATE INDEX accounts_balance ON accounts (balance);
CREATE TABLE events (id bigserial PRIMARY KEY, account bigint REFERENCES accounts, at timestamptz DEFAULT now());
INSERT INTO events (account) SELECT (g % 2000) + 1 FROM generate_series(1, 5000) g;
ANALYZE;
SELECT count(*) FROM accounts WHERE balance > 100;
UPDATE accounts SET balance = balance + 1 WHERE id < 50;
";

fn collect_everything(
    target: &mut PgTarget,
    statements: bool,
) -> BTreeMap<&'static str, Vec<CollectedRows>> {
    let mut out: BTreeMap<&'static str, Vec<CollectedRows>> = BTreeMap::new();
    // pgserver's PostgreSQL 16 ships no contrib: no pg_stat_statements there.
    let groups = Group::ALL
        .into_iter()
        .filter(|g| statements || *g != Group::Statements);
    for group in groups {
        for reading in target.collect(group, &FamilyFilter::all()) {
            let rows = reading
                .result
                .unwrap_or_else(|e| panic!("{} failed: {e}", reading.collector));
            for r in rows {
                out.entry(r.family).or_default().push(r);
            }
        }
    }
    out
}

fn rows_of(target: &mut PgTarget, group: Group, family: &str) -> usize {
    target
        .collect(group, &FamilyFilter::all())
        .into_iter()
        .filter_map(|r| r.result.ok())
        .flatten()
        .filter(|r| r.family == family)
        .map(|r| r.len())
        .sum()
}

/// Starts a VACUUM slowed to a crawl by its cost delay, waits for the collector to see it,
/// then cancels it. Returns the rows the collector saw.
fn vacuum_in_progress(app_url: &str, admin: &mut PgConnection, target: &mut PgTarget) -> usize {
    let url = app_url.to_owned();
    let vacuum = std::thread::spawn(move || {
        let mut c = PgConnection::establish(&url).unwrap();
        // Separate statements: VACUUM cannot run in the implicit transaction of a
        // multi-statement query.
        c.batch_execute("SET vacuum_cost_delay = 100").unwrap();
        c.batch_execute("SET vacuum_cost_limit = 1").unwrap();
        let _ = c.batch_execute("VACUUM (DISABLE_PAGE_SKIPPING) accounts");
    });
    let mut seen = 0;
    for _ in 0..100 {
        seen = rows_of(target, Group::Activity, "pg_vacuum_progress");
        if seen > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    admin
        .batch_execute("SELECT pg_cancel_backend(pid) FROM pg_stat_progress_vacuum")
        .unwrap();
    vacuum.join().unwrap();
    seen
}

fn check_release(major: u32) {
    let binaries = release_binaries(major);
    let statements = has_pg_stat_statements(&binaries);
    let cluster = monitored_cluster(binaries, &[]);
    let dsn = cluster.url("postgres");
    let mut admin = PgConnection::establish(&dsn).expect("connect");
    admin.batch_execute(WORKLOAD).expect("workload");
    if statements {
        admin
            .batch_execute("CREATE EXTENSION pg_stat_statements")
            .expect("extension");
    }
    admin
        .batch_execute("SELECT pg_create_physical_replication_slot('standby_1', true)")
        .expect("slot");
    let mut app = PgConnection::establish(&cluster.url("app")).expect("connect app");
    app.batch_execute(APP_SCHEMA).expect("app schema");
    // A session idle in a transaction holding a lock: activity and locks have rows.
    app.batch_execute("BEGIN; LOCK TABLE events IN SHARE MODE; SELECT 1")
        .expect("idle in transaction");

    let mut target = PgTarget::new("main", dsn.clone().into(), SessionLimits::default());
    let version = target.version().expect("version");
    assert_eq!(version / 10_000, i32::try_from(major).unwrap());

    // Types, through a view, for every collector's SQL on this release (pg_statement's is
    // built at run time and read into typed structs instead).
    let described: Vec<&str> = pgstats::all_sql(version).iter().map(|(f, _)| *f).collect();
    for name in PgTarget::collector_names() {
        let gated = (name == "pg_io" && major < 16) || name == "pg_statement";
        assert!(gated || described.contains(&name), "all_sql lacks {name}");
    }
    for (family, sql) in pgstats::all_sql(version) {
        let spec = catalog::family(family).unwrap();
        let columns = pgstats::describe(&mut admin, &sql)
            .unwrap_or_else(|e| panic!("PostgreSQL {major}, {family}: {e}"));
        assert!(!columns.is_empty());
        // Columns named `_…` steer the collector (the catalog collectors' page cursor) and
        // are not sent.
        for (name, ty) in columns.into_iter().filter(|(n, _)| !n.starts_with('_')) {
            let (_, col) = spec
                .column(&name)
                .unwrap_or_else(|| panic!("{family}.{name} is not in the catalog"));
            assert_eq!(
                ty,
                sql_type(col.kind),
                "PostgreSQL {major}: {family}.{name}"
            );
        }
    }

    // The first run is a baseline for pg_stat_statements; do some work, run again.
    collect_everything(&mut target, statements);
    diesel::sql_query("SELECT count(*) FROM accounts a JOIN events e ON e.account = a.id")
        .execute(&mut PgConnection::establish(&cluster.url("app")).unwrap())
        .expect("query");
    let collected = collect_everything(&mut target, statements);

    // A vacuum held back by its cost delay shows in pg_stat_progress_vacuum.
    let vacuum_rows = vacuum_in_progress(&cluster.url("app"), &mut admin, &mut target);
    assert!(
        vacuum_rows > 0,
        "PostgreSQL {major}: no pg_vacuum_progress row"
    );

    // A standby: the primary sees it replicate, the standby's receiver and every collector
    // work in recovery.
    let standby = standby_of(&cluster, release_binaries(major));
    let replicating = (0..150).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        rows_of(&mut target, Group::Replication, "pg_replication") > 0
    });
    assert!(
        replicating,
        "PostgreSQL {major}: no pg_stat_replication row"
    );
    let mut replica = PgTarget::new(
        "standby",
        standby.url("postgres").into(),
        SessionLimits::default(),
    );
    let on_standby = collect_everything(&mut replica, statements);
    let received: usize = on_standby
        .get("pg_wal_receiver")
        .map_or(0, |v| v.iter().map(|r| r.len()).sum());
    assert!(
        received > 0,
        "PostgreSQL {major}: no pg_stat_wal_receiver row on the standby"
    );
    let wal = &on_standby["pg_wal"][0].rows()[0];
    assert_eq!(wal[0], 1.0, "the standby reports itself in recovery");

    let mut expected = vec![
        "pg_activity",
        "pg_lock",
        "pg_database",
        "pg_server",
        "pg_bgwriter",
        "pg_wal",
        "pg_archiver",
        "pg_replication_slot",
        "pg_table",
        "pg_index",
    ];
    if major >= 16 {
        expected.push("pg_io");
    }
    if statements {
        expected.extend(["pg_statement", "pg_statement_text"]);
    }
    for family in &expected {
        let rows: usize = collected
            .get(family)
            .map_or(0, |v| v.iter().map(|r| r.len()).sum());
        assert!(rows > 0, "PostgreSQL {major}: {family} returned no rows");
    }
    let tables = &collected["pg_table"];
    assert!(
        tables
            .iter()
            .flat_map(|r| r.rows())
            .any(|r| r[0] == "app" && r[2] == "accounts"),
        "tables of every database are read"
    );
    if statements {
        let texts = &collected["pg_statement_text"][0];
        assert!(
            texts
                .rows()
                .iter()
                .all(|r| !r[2].as_str().unwrap().contains("'user'")),
            "statement texts are redacted"
        );
    }

    // Who the agent is, to the server it watches.
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pganalytics-agent'",
    )
    .get_result(&mut admin)
    .unwrap();
    assert_eq!(n.n, 1, "one session per target, named");

    // Everything validates as a batch, nothing skipped.
    let now = pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc());
    let id = CollectorId::from_uuid(uuid::Uuid::new_v4());
    let wire = WireBatch {
        version: WIRE_VERSION,
        batch_id: uuid::Uuid::new_v4(),
        collector_id: id.as_uuid(),
        agent_version: "test".into(),
        collected_at: now,
        metrics: collected
            .into_values()
            .flatten()
            .filter(|r| !r.is_empty())
            .map(|r| r.to_wire_block("main", now))
            .collect(),
    };
    let ctx = ValidationContext {
        collector_id: id,
        now,
        limits: BatchLimits::default(),
    };
    let batch = validate(wire, &ctx).unwrap_or_else(|e| panic!("PostgreSQL {major}: {e}"));
    assert!(batch.skipped.families.is_empty() && batch.skipped.columns.is_empty());
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_13() {
    check_release(13);
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_14() {
    check_release(14);
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_15() {
    check_release(15);
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_16() {
    check_release(16);
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_17() {
    check_release(17);
}

#[test]
fn every_collector_reads_catalog_typed_rows_on_postgresql_18() {
    check_release(18);
}

#[test]
fn without_pg_stat_statements_the_collector_says_how_to_enable_it() {
    let binaries = release_binaries(15);
    let cluster = monitored_cluster(binaries, &[]);
    let mut target = PgTarget::new(
        "main",
        cluster.url("postgres").into(),
        SessionLimits::default(),
    );
    let readings = target.collect(Group::Statements, &FamilyFilter::all());
    let err = readings[0].result.as_ref().unwrap_err().to_string();
    assert!(
        err.starts_with("pg_statement: the pg_stat_statements extension is not installed"),
        "{err}"
    );
    assert!(err.contains("CREATE EXTENSION pg_stat_statements"), "{err}");
    // The others still work on the same session.
    let database = target.collect(Group::Database, &FamilyFilter::all());
    assert!(database.iter().all(|r| r.result.is_ok()));
}
