//! The tables-and-indexes page: each table's size and its growth over a day, dead tuples,
//! (auto)vacuum and analyze, sequential against index scans, wraparound age; and the
//! indexes never scanned or not valid.

use crate::alerts::eval::Row;
use time::OffsetDateTime;

/// The `pg_table` columns the page reads, in this order.
pub const TABLE_COLUMNS: [&str; 13] = [
    "table_size_bytes",
    "indexes_size_bytes",
    "toast_size_bytes",
    "n_live_tup",
    "n_dead_tup",
    "seq_scan",
    "idx_scan",
    "relfrozenxid_age",
    "last_vacuum",
    "last_autovacuum",
    "last_analyze",
    "last_autoanalyze",
    "n_mod_since_analyze",
];

/// The `pg_index` columns the page reads, in this order.
pub const INDEX_COLUMNS: [&str; 4] = ["idx_scan", "size_bytes", "is_valid", "is_unique"];

/// Most tables listed (the largest).
pub const MAX_TABLES: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub datname: String,
    pub schema: String,
    pub name: String,
    /// Heap, indexes and TOAST.
    pub total_bytes: f64,
    pub table_bytes: Option<f64>,
    pub indexes_bytes: Option<f64>,
    /// Total size now minus a day ago, when the table was read then.
    pub growth_bytes_per_day: Option<f64>,
    pub live_tuples: Option<f64>,
    pub dead_tuples: Option<f64>,
    /// Dead over live + dead, 0 to 1.
    pub dead_ratio: Option<f64>,
    pub last_vacuum: Option<OffsetDateTime>,
    pub last_analyze: Option<OffsetDateTime>,
    pub seq_scans: Option<f64>,
    pub index_scans: Option<f64>,
    pub wraparound_age: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub datname: String,
    pub schema: String,
    pub table: String,
    pub name: String,
    pub bytes: Option<f64>,
    pub scans: Option<f64>,
    /// Never scanned since the statistics were reset (unique indexes, which enforce a
    /// constraint, are not listed as unused).
    pub unused: bool,
    pub invalid: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TablesPage {
    pub as_of: Option<OffsetDateTime>,
    /// Largest first.
    pub tables: Vec<TableRow>,
    /// Tables in the server's latest reading (more may exist than are listed).
    pub table_count: usize,
    /// Unused or invalid indexes, largest first.
    pub flagged_indexes: Vec<IndexRow>,
    pub index_count: usize,
}

fn label(r: &Row, i: usize) -> String {
    r.labels.get(i).cloned().flatten().unwrap_or_default()
}

fn value(r: &Row, i: usize) -> Option<f64> {
    r.values.get(i).copied().flatten()
}

fn epoch(v: Option<f64>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(v? as i64).ok()
}

fn later(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn size(r: &Row) -> f64 {
    (0..3).filter_map(|i| value(r, i)).sum()
}

impl TablesPage {
    /// From the latest `pg_table` rows (labels datname, schemaname, relname; values
    /// [`TABLE_COLUMNS`]), those of a day before, and the latest `pg_index` rows (labels
    /// datname, schemaname, relname, indexrelname; values [`INDEX_COLUMNS`]).
    pub fn new(tables: &[Row], day_ago: &[Row], indexes: &[Row]) -> Self {
        let key = |r: &Row| (label(r, 0), label(r, 1), label(r, 2));
        let before: std::collections::BTreeMap<_, f64> =
            day_ago.iter().map(|r| (key(r), size(r))).collect();
        let mut rows: Vec<TableRow> = tables
            .iter()
            .map(|r| {
                let (live, dead) = (value(r, 3), value(r, 4));
                let total = size(r);
                TableRow {
                    datname: label(r, 0),
                    schema: label(r, 1),
                    name: label(r, 2),
                    total_bytes: total,
                    table_bytes: value(r, 0),
                    indexes_bytes: value(r, 1),
                    growth_bytes_per_day: before.get(&key(r)).map(|b| total - b),
                    live_tuples: live,
                    dead_tuples: dead,
                    dead_ratio: match (live, dead) {
                        (Some(l), Some(d)) if l + d > 0.0 => Some(d / (l + d)),
                        _ => None,
                    },
                    last_vacuum: later(epoch(value(r, 8)), epoch(value(r, 9))),
                    last_analyze: later(epoch(value(r, 10)), epoch(value(r, 11))),
                    seq_scans: value(r, 5),
                    index_scans: value(r, 6),
                    wraparound_age: value(r, 7),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.total_bytes.total_cmp(&a.total_bytes).then_with(|| {
                (&a.datname, &a.schema, &a.name).cmp(&(&b.datname, &b.schema, &b.name))
            })
        });
        let table_count = rows.len();
        rows.truncate(MAX_TABLES);
        let mut flagged: Vec<IndexRow> = indexes
            .iter()
            .map(|r| {
                let scans = value(r, 0);
                IndexRow {
                    datname: label(r, 0),
                    schema: label(r, 1),
                    table: label(r, 2),
                    name: label(r, 3),
                    bytes: value(r, 1),
                    scans,
                    unused: scans == Some(0.0) && value(r, 3) != Some(1.0),
                    invalid: value(r, 2) == Some(0.0),
                }
            })
            // The other row of a large catalog sums indexes not sent in detail: no index to
            // drop or rebuild by that name.
            .filter(|i| i.name != crate::relations::OTHER && (i.unused || i.invalid))
            .collect();
        flagged.sort_by(|a, b| {
            b.bytes
                .unwrap_or(0.0)
                .total_cmp(&a.bytes.unwrap_or(0.0))
                .then_with(|| a.name.cmp(&b.name))
        });
        Self {
            as_of: tables.iter().map(|r| r.time).max(),
            tables: rows,
            table_count,
            flagged_indexes: flagged,
            index_count: indexes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(name: &str, scans: f64, valid: f64) -> Row {
        Row {
            server_id: 1,
            time: OffsetDateTime::UNIX_EPOCH,
            labels: ["app", "public", "t", name]
                .iter()
                .map(|l| Some((*l).to_owned()))
                .collect(),
            values: vec![Some(scans), Some(8192.0), Some(valid), Some(0.0)],
        }
    }

    #[test]
    fn the_other_row_of_a_large_catalog_is_never_flagged_as_an_index() {
        let other = crate::relations::OTHER;
        let page = TablesPage::new(&[], &[], &[index("t_at", 0.0, 1.0), index(other, 0.0, 0.0)]);
        let names: Vec<&str> = page
            .flagged_indexes
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["t_at"]);
    }
}
