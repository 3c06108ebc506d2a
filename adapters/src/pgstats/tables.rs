//! `pg_stat_user_tables` + `pg_statio_user_tables`, sizes and `age(relfrozenxid)`, for every
//! database of the instance (one connection at a time), partition trees rolled up into
//! their root and large catalogs summarised ([`super::relations`]).

use super::relations::{
    CatalogOptions, Column, USER_NAMESPACES, counters, rollup, statement, sums,
};
use super::{Ctx, PgStatsError, each_database};
use pganalytics_domain::collect::CollectedRows;

const FAMILY: &str = "pg_table";

/// Every user relation's statistics, straight from the statistics functions the views
/// `pg_stat_user_tables` and `pg_statio_user_tables` are made of (reading the views costs
/// four times as much on 250,000 tables: each joins `pg_class` and `pg_namespace` again).
const REL: &str = "ix AS (
    SELECT i.indrelid,
           sum(pg_stat_get_numscans(i.indexrelid)) AS idx_scan,
           sum(pg_stat_get_tuples_fetched(i.indexrelid)) AS idx_tup_fetch,
           sum(pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid))
               AS idx_blks_read,
           sum(pg_stat_get_blocks_hit(i.indexrelid)) AS idx_blks_hit,
           sum(greatest(ic.relpages, 0)) AS pages
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    GROUP BY i.indrelid
),
rel AS (
    SELECT ROOT AS root, PART AS part, c.relkind, c.relfrozenxid,
           pg_stat_get_numscans(c.oid) AS seq_scan,
           pg_stat_get_tuples_returned(c.oid) AS seq_tup_read,
           ix.idx_scan,
           ix.idx_tup_fetch + pg_stat_get_tuples_fetched(c.oid) AS idx_tup_fetch,
           pg_stat_get_tuples_inserted(c.oid) AS n_tup_ins,
           pg_stat_get_tuples_updated(c.oid) AS n_tup_upd,
           pg_stat_get_tuples_deleted(c.oid) AS n_tup_del,
           pg_stat_get_tuples_hot_updated(c.oid) AS n_tup_hot_upd,
           pg_stat_get_live_tuples(c.oid) AS n_live_tup,
           pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
           pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
           pg_stat_get_vacuum_count(c.oid) AS vacuum_count,
           pg_stat_get_autovacuum_count(c.oid) AS autovacuum_count,
           pg_stat_get_analyze_count(c.oid) AS analyze_count,
           pg_stat_get_autoanalyze_count(c.oid) AS autoanalyze_count,
           pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid) AS heap_blks_read,
           pg_stat_get_blocks_hit(c.oid) AS heap_blks_hit,
           ix.idx_blks_read, ix.idx_blks_hit,
           pg_stat_get_blocks_fetched(tc.oid) - pg_stat_get_blocks_hit(tc.oid)
               AS toast_blks_read,
           pg_stat_get_blocks_hit(tc.oid) AS toast_blks_hit,
           greatest(c.relpages, 0) AS table_pages, coalesce(ix.pages, 0) AS index_pages,
           greatest(coalesce(tc.relpages, 0), 0) AS toast_pages,
           pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
           pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
           pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
           pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze
    FROM pg_class c
    TREE_JOIN
    LEFT JOIN ix ON ix.indrelid = c.oid
    LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'm', 'p')
      AND c.relnamespace USER_NAMESPACES
),
";

/// The SQL for a cycle whose page starts after root oid `cursor`.
///
/// Sizes take an `AccessShareLock`: they are estimated from `relpages` for relations
/// someone holds an `AccessExclusiveLock` on, rather than wait behind a long `ALTER TABLE`
/// (and make every session queued behind us wait too).
pub(super) fn sql(opts: &CatalogOptions, cursor: u32) -> String {
    let r = rollup(opts.rollup_partitions);
    let rel = REL
        .replace("USER_NAMESPACES", USER_NAMESPACES)
        .replace("ROOT", r.root)
        .replace("PART", r.part)
        .replace("TREE_JOIN", r.join);
    let mut columns = vec![
        Column::new(
            "datname",
            "current_database()::text",
            "current_database()::text",
        ),
        Column::label("schemaname", "n.nspname"),
        Column::label("relname", "c.relname"),
    ];
    columns.extend(counters(FAMILY).map(Column::counter));
    columns.extend(
        ["n_live_tup", "n_dead_tup", "n_mod_since_analyze"]
            .into_iter()
            .map(Column::summed_gauge),
    );
    let exact = "d.relations = 1 AND l.relation IS NULL";
    let bs = "current_setting('block_size')::float8";
    for (name, exact_size, pages) in [
        (
            "table_size_bytes",
            "pg_relation_size(d.root)",
            "table_pages",
        ),
        (
            "indexes_size_bytes",
            "pg_indexes_size(d.root)",
            "index_pages",
        ),
    ] {
        columns.push(Column::new(
            name,
            format!("CASE WHEN {exact} THEN {exact_size}::float8 ELSE d.{pages} * {bs} END"),
            format!("coalesce(sum(d.{pages}), 0) * {bs}"),
        ));
    }
    columns.extend([
        Column::new(
            "toast_size_bytes",
            format!(
                "CASE WHEN {exact} THEN CASE WHEN c.reltoastrelid <> 0 \
                 THEN pg_total_relation_size(c.reltoastrelid)::float8 END \
                 ELSE d.toast_pages * {bs} END"
            ),
            format!("coalesce(sum(d.toast_pages), 0) * {bs}"),
        ),
        Column::new(
            "relfrozenxid_age",
            "d.relfrozenxid_age::float8",
            "max(d.relfrozenxid_age)::float8",
        ),
    ]);
    for t in [
        "last_vacuum",
        "last_autovacuum",
        "last_analyze",
        "last_autoanalyze",
    ] {
        columns.push(Column::new(t, format!("d.{t}"), format!("min(d.{t})")));
    }
    columns.extend([
        Column::summed_gauge("relations"),
        Column::summed_gauge("partitions"),
    ]);
    let ctes = format!(
        "{tree}{rel}agg AS (
    SELECT root, count(*)::int8 AS relations, count(*) FILTER (WHERE part)::int8 AS partitions,
           {sums}
           sum(n_live_tup) AS n_live_tup, sum(n_dead_tup) AS n_dead_tup,
           sum(n_mod_since_analyze) AS n_mod_since_analyze,
           sum(table_pages)::float8 AS table_pages, sum(index_pages)::float8 AS index_pages,
           sum(toast_pages)::float8 AS toast_pages,
           max(age(relfrozenxid)) FILTER (WHERE relkind <> 'p') AS relfrozenxid_age,
           min(last_vacuum) AS last_vacuum, min(last_autovacuum) AS last_autovacuum,
           min(last_analyze) AS last_analyze, min(last_autoanalyze) AS last_autoanalyze,
           sum(table_pages + index_pages) AS size_rank,
           sum(seq_scan + coalesce(idx_scan, 0) + n_tup_ins + n_tup_upd + n_tup_del) AS activity,
           false AS flagged
    FROM rel
    GROUP BY root
)",
        tree = r.tree,
        sums = sums(FAMILY),
    );
    statement(
        opts,
        cursor,
        &ctes,
        &columns,
        "sent d JOIN pg_class c ON c.oid = d.root
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN locked l ON l.relation = d.root",
    )
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    let catalog = &mut *ctx.catalog;
    each_database(ctx.conn, ctx.dsn, ctx.limits, FAMILY, |datname, conn| {
        catalog.read(conn, FAMILY, datname, sql)
    })
}
