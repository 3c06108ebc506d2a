//! Large catalogs against a real server: partition trees (declarative, two levels deep, and
//! plain inheritance) roll up into their root, the rows per cycle stay bounded by the
//! configuration, the other row keeps the database's totals exact, its counters and the
//! trees' never go down, the detail page moves on, and sizes are never asked of a relation
//! someone holds an `AccessExclusiveLock` on.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pganalytics_adapters::pgstats::{CatalogOptions, PgTarget, SessionLimits};
use pganalytics_adapters::test_clusters::monitored_cluster;
use pganalytics_adapters::testing::{binaries, wait_until};
use pganalytics_domain::relations::OTHER;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const TABLES: usize = 30;

/// A partitioned table two levels deep (8 relations), an inheritance tree (3) and 30 plain
/// tables, each with a primary key.
fn schema() -> String {
    let mut sql = String::from(
        "CREATE TABLE m (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
         CREATE TABLE m0 PARTITION OF m FOR VALUES FROM (0) TO (100);
         CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (100) TO (200);
         CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (200) TO (300);
         CREATE TABLE m3 PARTITION OF m FOR VALUES FROM (300) TO (400);
         CREATE TABLE m4 PARTITION OF m FOR VALUES FROM (400) TO (600) PARTITION BY RANGE (id);
         CREATE TABLE m4a PARTITION OF m4 FOR VALUES FROM (400) TO (500);
         CREATE TABLE m4b PARTITION OF m4 FOR VALUES FROM (500) TO (600);
         CREATE TABLE legacy (id int, v int);
         CREATE TABLE legacy_2025 () INHERITS (legacy);
         CREATE TABLE legacy_2026 () INHERITS (legacy);
         INSERT INTO m SELECT g, g FROM generate_series(0, 599) g;
         INSERT INTO legacy_2025 SELECT g, g FROM generate_series(1, 50) g;
         INSERT INTO legacy_2026 SELECT g, g FROM generate_series(1, 70) g;
         INSERT INTO legacy SELECT g, g FROM generate_series(1, 5) g;",
    );
    for i in 0..TABLES {
        sql.push_str(&format!(
            "CREATE TABLE t{i} (id int PRIMARY KEY, v int);
             INSERT INTO t{i} SELECT g, g FROM generate_series(1, {}) g;",
            (i + 1) * 10
        ));
    }
    sql
}

/// Rows inserted by [`schema`].
fn inserted() -> i64 {
    600 + 50 + 70 + 5 + (1..=TABLES as i64).map(|i| i * 10).sum::<i64>()
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn total(conn: &mut PgConnection, column: &str) -> i64 {
    diesel::sql_query(format!(
        "SELECT pg_stat_clear_snapshot(), coalesce(sum({column}), 0)::int8 AS n \
         FROM pg_stat_user_tables"
    ))
    .get_result::<Total>(conn)
    .unwrap()
    .n
}

/// One family's rows of the `app` database, by their labels.
struct Rows {
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
    labels: usize,
}

impl Rows {
    fn read(target: &mut PgTarget, family: &str) -> Self {
        let read = target.run(family).expect("collector");
        let block = read
            .into_iter()
            .find(|r| r.rows().first().is_some_and(|row| row[0] == "app"))
            .expect("rows of the app database");
        Self {
            labels: if family == "pg_index" { 4 } else { 3 },
            columns: block.columns.clone(),
            rows: block.rows(),
        }
    }

    fn col(&self, name: &str) -> usize {
        self.columns.iter().position(|c| *c == name).unwrap()
    }

    fn name(&self, row: &[Value]) -> String {
        row[1..self.labels]
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(".")
    }

    fn get(&self, name: &str) -> Option<&Vec<Value>> {
        self.rows.iter().find(|r| self.name(r) == name)
    }

    fn other(&self) -> &Vec<Value> {
        let others: Vec<_> = self.rows.iter().filter(|r| r[1] == OTHER).collect();
        assert_eq!(others.len(), 1, "one other row per database");
        others[0]
    }

    fn detailed(&self) -> BTreeSet<String> {
        self.rows
            .iter()
            .filter(|r| r[1] != OTHER)
            .map(|r| self.name(r))
            .collect()
    }

    fn int(&self, row: &[Value], column: &str) -> i64 {
        row[self.col(column)].as_i64().unwrap_or(0)
    }

    fn num(&self, row: &[Value], column: &str) -> f64 {
        row[self.col(column)].as_f64().unwrap()
    }

    fn sum(&self, column: &str) -> i64 {
        self.rows.iter().map(|r| self.int(r, column)).sum()
    }

    fn by_name(&self, column: &str) -> BTreeMap<String, i64> {
        self.rows
            .iter()
            .map(|r| (self.name(r), self.int(r, column)))
            .collect()
    }
}

fn target(url: &str, opts: CatalogOptions) -> PgTarget {
    PgTarget::new("main", url.to_owned().into(), SessionLimits::default()).with_catalog(opts)
}

#[test]
fn partitions_roll_up_and_the_other_row_keeps_the_totals_exact() {
    let cluster = monitored_cluster(binaries(), &[]);
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    admin.batch_execute("CREATE DATABASE app").unwrap();
    let app_url = cluster.url("app");
    let mut app = PgConnection::establish(&app_url).unwrap();
    app.batch_execute(&schema()).unwrap();
    wait_until(
        "the inserts to reach the statistics",
        Duration::from_secs(30),
        || total(&mut app, "n_tup_ins") == inserted(),
    );

    let opts = CatalogOptions {
        top_n: 4,
        page_size: 3,
        rollup_partitions: true,
    };
    let mut t = target(&cluster.url("postgres"), opts.clone());
    let tables = Rows::read(&mut t, "pg_table");
    // Trees: m, legacy and the 30 tables; at most 4 + 3 of them in detail (a tree can be
    // both among the largest and the most active), the rest in one row.
    let detailed = tables.detailed().len();
    assert!(
        (3 + 2..=4 + 3).contains(&detailed),
        "{:?}",
        tables.detailed()
    );
    let m = tables
        .get("public.m")
        .expect("the largest tree is in detail");
    assert_eq!(tables.num(m, "relations"), 8.0, "m, m0–m4 and m4's two");
    assert_eq!(tables.num(m, "partitions"), 7.0);
    assert_eq!(
        tables.int(m, "n_tup_ins"),
        600,
        "summed over the partitions"
    );
    let other = tables.other();
    assert!(tables.num(other, "relations") > 0.0);
    let relations: f64 = tables.rows.iter().map(|r| tables.num(r, "relations")).sum();
    assert_eq!(
        relations, 41.0,
        "the other row counts the relations not in detail"
    );
    assert_eq!(tables.sum("n_tup_ins"), inserted(), "totals are exact");
    if let Some(legacy) = tables.get("public.legacy") {
        assert_eq!(tables.num(legacy, "partitions"), 2.0);
        assert_eq!(tables.int(legacy, "n_tup_ins"), 125);
    }
    let indexes = Rows::read(&mut t, "pg_index");
    assert!(indexes.rows.len() <= 4 + 3 + 1);
    let m_pkey = indexes
        .get("public.m.m_pkey")
        .expect("the largest index tree");
    assert_eq!(indexes.num(m_pkey, "relations"), 8.0);
    assert_eq!(indexes.num(m_pkey, "is_valid"), 1.0);
    indexes.other();

    // The page moves on: within a full rotation every tree is seen in detail, and the
    // counters never go down, even as relations move between the detail and the other row.
    let mut seen = tables.detailed();
    let mut prev = tables;
    let mut writes = 0;
    for cycle in 0..12 {
        app.batch_execute(&format!(
            "INSERT INTO t{} SELECT g, g FROM generate_series(10000, 10009) g",
            cycle % TABLES
        ))
        .unwrap();
        writes += 10;
        wait_until("the inserts", Duration::from_secs(30), || {
            total(&mut app, "n_tup_ins") == inserted() + writes
        });
        let now = Rows::read(&mut t, "pg_table");
        assert!(now.rows.len() <= 4 + 3 + 1);
        let (p, n) = (prev.other(), now.other());
        for column in ["n_tup_ins", "seq_scan", "heap_blks_hit"] {
            assert!(
                now.int(n, column) >= prev.int(p, column),
                "cycle {cycle}: the other row's {column} went down"
            );
        }
        // Over the interval, the rows in detail both times plus the other row account for
        // the database's increase.
        let (before, after) = (prev.by_name("n_tup_ins"), now.by_name("n_tup_ins"));
        let known: i64 = after
            .iter()
            .filter(|(k, _)| k.as_str() != "(other).(other)")
            .filter_map(|(k, v)| before.get(k).map(|b| v - b))
            .sum();
        assert_eq!(
            known + now.int(n, "n_tup_ins") - prev.int(p, "n_tup_ins"),
            10,
            "cycle {cycle}: increases add up"
        );
        seen.extend(now.detailed());
        prev = now;
    }
    assert_eq!(seen.len(), 32, "every tree seen in detail: {seen:?}");

    // Dropping a partition does not make the tree's counters go down.
    let m_before = prev.int(prev.get("public.m").unwrap(), "n_tup_ins");
    app.batch_execute("DROP TABLE m0").unwrap();
    let now = Rows::read(&mut t, "pg_table");
    let m = now.get("public.m").unwrap();
    assert_eq!(now.num(m, "relations"), 7.0);
    assert_eq!(now.int(m, "n_tup_ins"), m_before, "no false reset");

    // An invalid index (a failed CREATE INDEX CONCURRENTLY) is always sent in detail, however
    // small and idle: the alert on it names it.
    app.batch_execute("CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)")
        .unwrap();
    assert!(
        app.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)")
            .is_err()
    );
    let indexes = Rows::read(&mut t, "pg_index");
    let dup = indexes
        .get("public.dup.dup_v")
        .expect("the invalid index in detail");
    assert_eq!(indexes.num(dup, "is_valid"), 0.0);
    assert_eq!(indexes.num(indexes.other(), "is_valid"), 1.0);

    // Kept separate: one row per relation, partitioned roots included.
    let mut flat = target(
        &cluster.url("postgres"),
        CatalogOptions {
            top_n: 100,
            page_size: 100,
            rollup_partitions: false,
        },
    );
    let rows = Rows::read(&mut flat, "pg_table");
    for name in ["public.m1", "public.m4a", "public.legacy_2025", "public.m"] {
        let row = rows.get(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(rows.num(row, "relations"), 1.0);
        assert_eq!(rows.num(row, "partitions"), 0.0);
    }
    assert_eq!(rows.int(rows.get("public.m1").unwrap(), "n_tup_ins"), 100);
    assert_eq!(
        rows.num(rows.other(), "relations"),
        0.0,
        "nothing left over"
    );
    let indexes = Rows::read(&mut flat, "pg_index");
    assert!(indexes.get("public.m1.m1_pkey").is_some());
}

#[test]
fn sizes_are_exact_in_detail_and_never_asked_of_a_locked_relation() {
    let cluster = monitored_cluster(binaries(), &[]);
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    admin.batch_execute("CREATE DATABASE app").unwrap();
    let mut app = PgConnection::establish(&cluster.url("app")).unwrap();
    app.batch_execute(
        "CREATE TABLE big (id int PRIMARY KEY, note text);
         INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
         CREATE TABLE held (id int PRIMARY KEY);
         INSERT INTO held SELECT generate_series(1, 5000);",
    )
    .unwrap();
    app.batch_execute("VACUUM ANALYZE big, held").unwrap();
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let exact = |conn: &mut PgConnection, f: &str| {
        diesel::sql_query(format!("SELECT {f}::int8 AS n"))
            .get_result::<Size>(conn)
            .unwrap()
            .n as f64
    };
    let big_size = exact(&mut app, "pg_relation_size('big')");
    let big_indexes = exact(&mut app, "pg_indexes_size('big')");
    let held_estimate = exact(
        &mut app,
        "(SELECT relpages::int8 * current_setting('block_size')::int8 FROM pg_class WHERE relname = 'held')",
    );
    let mut t = target(&cluster.url("postgres"), CatalogOptions::default());
    let rows = Rows::read(&mut t, "pg_table");
    let big = rows.get("public.big").unwrap();
    assert_eq!(rows.num(big, "table_size_bytes"), big_size);
    assert_eq!(rows.num(big, "indexes_size_bytes"), big_indexes);

    // Someone holds an AccessExclusiveLock on `held`: the collectors finish at once (a size
    // function would wait lock_timeout and fail) and its sizes are the catalog's estimate.
    let mut holder = PgConnection::establish(&cluster.url("app")).unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let rows = Rows::read(&mut t, "pg_table");
    let held = rows
        .get("public.held")
        .expect("the locked table is still reported");
    assert_eq!(rows.num(held, "table_size_bytes"), held_estimate);
    let indexes = Rows::read(&mut t, "pg_index");
    let held_pkey = indexes.get("public.held.held_pkey").unwrap();
    assert!(indexes.num(held_pkey, "size_bytes") > 0.0, "estimated");
    holder.batch_execute("ROLLBACK").unwrap();
}
