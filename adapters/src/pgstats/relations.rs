//! Large catalogs: what the table and index collectors share.
//!
//! A database may hold 500,000 relations (partitioned tables, TimescaleDB chunks). The
//! collectors never send one row per relation:
//! - partitions and inheritance children roll up into their root (one row per tree, with
//!   `relations` and `partitions` counts, summed counters and sizes), unless the target
//!   keeps them separate;
//! - per cycle, full detail for the top trees by size and by activity, plus a page of the
//!   others in oid order (the page moves on each cycle, so every tree is seen in detail on a
//!   slower cadence), plus one [`OTHER`] row per database with the sums of the rest, so the
//!   database's totals stay exact;
//! - sizes are estimated from `relpages` (the catalog, no file system call) except for
//!   detailed single relations, whose size functions are called unless someone holds an
//!   `AccessExclusiveLock` on them.
//!
//! The SQL aggregates, ranks and pages in the database; the agent keeps the counters of
//! sums monotonic ([`RelationCounters`]) and the page cursor, per database.

use std::collections::HashMap;

use diesel::pg::PgConnection;
use pganalytics_domain::catalog::ColumnKind;
use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::relations::{OTHER, RelationCounters};
use serde_json::json;

use super::PgStatsError;
use super::query::{self, Disposition, RowView};

/// How the table and index collectors size their output on large catalogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOptions {
    /// Trees sent in full detail every cycle: half the largest, half the most active.
    pub top_n: u32,
    /// Further trees sent in detail per cycle, in turn, so that every one is seen.
    pub page_size: u32,
    /// Roll partitions and inheritance children up into their root.
    pub rollup_partitions: bool,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        Self {
            top_n: 200,
            page_size: 300,
            rollup_partitions: true,
        }
    }
}

/// What the collectors remember between cycles, per family and database.
#[derive(Debug, Default)]
pub(super) struct CatalogState {
    pub(super) opts: CatalogOptions,
    databases: HashMap<(&'static str, String), Database>,
}

#[derive(Debug)]
struct Database {
    counters: RelationCounters,
    /// The root oid the last page ended at.
    cursor: u32,
}

impl CatalogState {
    pub(super) fn new(opts: CatalogOptions) -> Self {
        Self {
            opts,
            databases: HashMap::new(),
        }
    }

    /// Runs `sql(cursor)` of `family` on `datname` and returns its rows, their counters
    /// kept monotonic, the other row last.
    pub(super) fn read(
        &mut self,
        conn: &mut PgConnection,
        family: &'static str,
        datname: &str,
        sql: impl Fn(&CatalogOptions, u32) -> String,
    ) -> Result<CollectedRows, PgStatsError> {
        let spec = pganalytics_domain::catalog::family(family).expect("a catalog family");
        let width = counters(family).count();
        let labels = spec
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Label)
            .count();
        let key = (family, datname.to_owned());
        let db = self.databases.entry(key).or_insert_with(|| Database {
            counters: RelationCounters::new(width),
            cursor: 0,
        });
        let mut last_page: Option<(i64, i64)> = None;
        let (mut rows, deferred) =
            query::family_rows_with(conn, family, &sql(&self.opts, db.cursor), |row| {
                let [root, page] = row.meta else {
                    unreachable!("the catalog SQL has two meta columns")
                };
                if root.is_none() {
                    return Disposition::Defer;
                }
                if let (Some(root), Some(page)) = (root, page)
                    && last_page.is_none_or(|(p, _)| *page > p)
                {
                    last_page = Some((*page, *root));
                }
                let key = row_key(&row, labels);
                let rolled = relations(&row) > 1.0;
                let mut counters = counters_of(&row);
                db.counters.detailed(&key, rolled, &mut counters);
                write_counters(row, &counters);
                Disposition::Keep
            })?;
        if let Some((_, root)) = last_page {
            db.cursor = u32::try_from(root).unwrap_or(0);
        }
        for mut values in deferred {
            let kinds: Vec<ColumnKind> = rows
                .columns
                .iter()
                .map(|c| spec.column(c).expect("checked by the query").1.kind)
                .collect();
            let row = RowView {
                names: &rows.columns,
                kinds: &kinds,
                values: &mut values,
                meta: &[],
            };
            let mut counters = counters_of(&row);
            db.counters.other(&mut counters);
            write_counters(row, &counters);
            rows.push(values);
        }
        Ok(rows)
    }
}

/// The row's labels (the family's label columns, which come first, but the database),
/// joined.
fn row_key(row: &RowView<'_>, labels: usize) -> String {
    let mut key = String::new();
    for v in row.values.iter().take(labels).skip(1) {
        key.push_str(v.as_str().unwrap_or_default());
        key.push('\0');
    }
    key
}

/// How many relations the row stands for.
fn relations(row: &RowView<'_>) -> f64 {
    row.names
        .iter()
        .position(|n| *n == "relations")
        .and_then(|i| row.values[i].as_f64())
        .unwrap_or(1.0)
}

fn counters_of(row: &RowView<'_>) -> Vec<Option<i64>> {
    row.kinds
        .iter()
        .zip(row.values.iter())
        .filter(|(k, _)| **k == ColumnKind::Counter)
        .map(|(_, v)| v.as_i64())
        .collect()
}

fn write_counters(row: RowView<'_>, counters: &[Option<i64>]) {
    let slots = row
        .kinds
        .iter()
        .zip(row.values.iter_mut())
        .filter(|(k, _)| **k == ColumnKind::Counter)
        .map(|(_, v)| v);
    for (slot, c) in slots.zip(counters) {
        if let Some(c) = c {
            *slot = json!(c);
        }
    }
}

/// Partitions and inheritance children (of tables and of indexes) with the relation at the
/// top of their tree, through their first parent. `pg_partition_root()` costs twice as
/// much on 250,000 partitions and knows nothing of inheritance (TimescaleDB's chunks).
pub(super) const TREE: &str = "tree AS (
    SELECT i.inhrelid AS relid, i.inhparent AS root
    FROM pg_inherits i
    WHERE i.inhseqno = 1
      AND NOT EXISTS (SELECT 1 FROM pg_inherits p WHERE p.inhrelid = i.inhparent)
    UNION ALL
    SELECT i.inhrelid, t.root
    FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid AND i.inhseqno = 1
),
";

/// How a relation of the `rel` CTE finds its root: the tree CTE, the root and "is a
/// partition" expressions over `c` (the relation's `pg_class` row) and the join they need.
pub(super) struct Rollup {
    pub tree: &'static str,
    pub root: &'static str,
    pub part: &'static str,
    pub join: &'static str,
}

pub(super) fn rollup(on: bool) -> Rollup {
    if on {
        Rollup {
            tree: TREE,
            root: "coalesce(t.root, c.oid)",
            part: "t.root IS NOT NULL",
            join: "LEFT JOIN tree t ON t.relid = c.oid",
        }
    } else {
        Rollup {
            tree: "",
            root: "c.oid",
            part: "false",
            join: "",
        }
    }
}

/// The counters of `family`, from the catalog.
pub(super) fn counters(family: &'static str) -> impl Iterator<Item = &'static str> {
    pganalytics_domain::catalog::family(family)
        .expect("a catalog family")
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Counter)
        .map(|c| c.name)
}

/// `sum(<counter>)::int8 AS <counter>, ` for every counter of `family` (over `rel`).
pub(super) fn sums(family: &'static str) -> String {
    counters(family)
        .map(|c| format!("sum({c})::int8 AS {c}, "))
        .collect()
}

/// The whole statement: `ctes` (the CTEs after `locked`, up to `agg` with one row per tree:
/// `root`, `size_rank`, `activity`, `flagged` and what `columns` read), the ranking, the
/// select.
pub(super) fn statement(
    opts: &CatalogOptions,
    cursor: u32,
    ctes: &str,
    columns: &[Column],
    from: &str,
) -> String {
    format!(
        "/* pganalytics-agent */\nWITH RECURSIVE {},\n{ctes}{}{}",
        locked_relations_cte!(),
        ranking(opts, cursor),
        select(columns, from)
    )
}

/// The namespaces of `pg_stat_user_tables` and `pg_stat_user_indexes`.
pub(super) const USER_NAMESPACES: &str = "NOT IN (SELECT oid FROM pg_namespace
                                 WHERE nspname IN ('pg_catalog', 'information_schema')
                                    OR nspname ~ '^pg_toast')";

/// A column of the catalog SQL: its expression in a detailed row (over `sent d`) and in the
/// other row (an aggregate over the rows not sent in detail).
pub(super) struct Column {
    pub name: &'static str,
    pub detailed: String,
    pub other: String,
}

impl Column {
    pub(super) fn new(
        name: &'static str,
        detailed: impl Into<String>,
        other: impl Into<String>,
    ) -> Self {
        Self {
            name,
            detailed: detailed.into(),
            other: other.into(),
        }
    }

    /// A label: the detailed row's expression, `(other)` in the other row.
    pub(super) fn label(name: &'static str, detailed: &str) -> Self {
        Self::new(
            name,
            format!("{detailed}::text"),
            format!("'{OTHER}'::text"),
        )
    }

    /// A counter summed over the tree, and over the rest in the other row.
    pub(super) fn counter(name: &'static str) -> Self {
        Self::new(
            name,
            format!("d.{name}"),
            format!("coalesce(sum(d.{name}), 0)::int8"),
        )
    }

    /// A gauge summed over the tree, and over the rest in the other row.
    pub(super) fn summed_gauge(name: &'static str) -> Self {
        Self::new(
            name,
            format!("d.{name}::float8"),
            format!("coalesce(sum(d.{name}), 0)::float8"),
        )
    }
}

/// The ranking and paging over `agg` (one row per tree: `root`, `size_rank`, `activity`,
/// and `flagged`: always in detail, such as an invalid index, which needs its name),
/// as the CTE `sent` with a `detailed` flag and the tree's `page` position.
fn ranking(opts: &CatalogOptions, cursor: u32) -> String {
    let by_size = opts.top_n / 2 + opts.top_n % 2;
    let by_activity = opts.top_n / 2;
    let page = opts.page_size;
    format!(
        ",
ranked AS (
    SELECT a.*,
           (row_number() OVER (ORDER BY a.size_rank DESC, a.root) <= {by_size}
            OR row_number() OVER (ORDER BY a.activity DESC NULLS LAST, a.root) <= {by_activity}
            OR a.flagged)
               AS top
    FROM agg a
),
paged AS (
    SELECT r.*,
           CASE WHEN NOT r.top THEN row_number() OVER (
               PARTITION BY r.top ORDER BY r.root <= {cursor}::oid, r.root) END AS page
    FROM ranked r
),
sent AS (SELECT p.*, p.top OR p.page <= {page} AS detailed FROM paged p)
"
    )
}

/// The final SELECT: the detailed rows (`from` joins `sent d` to whatever their labels
/// need), then the other row.
fn select(columns: &[Column], from: &str) -> String {
    let detailed: Vec<String> = columns
        .iter()
        .map(|c| format!("{} AS {}", c.detailed, c.name))
        .collect();
    let other: Vec<String> = columns
        .iter()
        .map(|c| format!("{} AS {}", c.other, c.name))
        .collect();
    format!(
        "SELECT {}, d.root::int8 AS _root, d.page AS _page
FROM {from}
WHERE d.detailed
UNION ALL
SELECT {}, NULL::int8 AS _root, NULL::int8 AS _page
FROM sent d
WHERE NOT d.detailed",
        detailed.join(",\n       "),
        other.join(",\n       ")
    )
}
