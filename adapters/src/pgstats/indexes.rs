//! `pg_stat_user_indexes` + `pg_statio_user_indexes`, sizes, validity and uniqueness, for
//! every database of the instance. Unused indexes are those whose `idx_scan` stays flat.
//! The indexes of partitions roll up into their partitioned index, and large catalogs are
//! summarised as tables are ([`super::relations`]).

use super::relations::{
    CatalogOptions, Column, USER_NAMESPACES, counters, rollup, statement, sums,
};
use super::{Ctx, PgStatsError, each_database};
use pganalytics_domain::collect::CollectedRows;

const FAMILY: &str = "pg_index";

/// The SQL for a cycle whose page starts after root oid `cursor`. An invalid index is always
/// sent in detail: the alert on it has to name it. As for tables, no size
/// function is called for an index whose table or itself is exclusively locked.
pub(super) fn sql(opts: &CatalogOptions, cursor: u32) -> String {
    let mut columns = vec![
        Column::new(
            "datname",
            "current_database()::text",
            "current_database()::text",
        ),
        Column::label("schemaname", "n.nspname"),
        Column::label("relname", "tc.relname"),
        Column::label("indexrelname", "ic.relname"),
    ];
    columns.extend(counters(FAMILY).map(Column::counter));
    let bs = "current_setting('block_size')::float8";
    columns.extend([
        Column::new(
            "size_bytes",
            format!(
                "CASE WHEN d.relations = 1 AND NOT EXISTS (SELECT 1 FROM locked
                     WHERE locked.relation IN (ri.indrelid, d.root))
                 THEN pg_relation_size(d.root)::float8 ELSE d.pages * {bs} END"
            ),
            format!("coalesce(sum(d.pages), 0) * {bs}"),
        ),
        Column::new(
            "is_valid",
            "least(d.is_valid, ri.indisvalid::int)::float8",
            "min(d.is_valid)::float8",
        ),
        Column::new(
            "is_unique",
            "least(d.is_unique, ri.indisunique::int)::float8",
            "min(d.is_unique)::float8",
        ),
        Column::summed_gauge("relations"),
        Column::summed_gauge("partitions"),
    ]);
    let r = rollup(opts.rollup_partitions);
    // The statistics functions `pg_stat_user_indexes` and `pg_statio_user_indexes` are
    // made of, as for tables.
    let ctes = format!(
        "{tree}rel AS (
    SELECT {root} AS root, {part} AS part,
           pg_stat_get_numscans(c.oid) AS idx_scan,
           pg_stat_get_tuples_returned(c.oid) AS idx_tup_read,
           pg_stat_get_tuples_fetched(c.oid) AS idx_tup_fetch,
           pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid) AS idx_blks_read,
           pg_stat_get_blocks_hit(c.oid) AS idx_blks_hit,
           greatest(c.relpages, 0) AS pages,
           x.indisvalid::int AS is_valid, x.indisunique::int AS is_unique
    FROM pg_index x
    JOIN pg_class c ON c.oid = x.indexrelid
    {join}
    WHERE c.relnamespace {USER_NAMESPACES}
),
agg AS (
    SELECT root, count(*)::int8 AS relations, count(*) FILTER (WHERE part)::int8 AS partitions,
           {sums}
           sum(pages)::float8 AS pages, min(is_valid) AS is_valid, min(is_unique) AS is_unique,
           sum(pages) AS size_rank, sum(idx_scan) AS activity,
           min(is_valid) = 0 AS flagged
    FROM rel
    GROUP BY root
)",
        tree = r.tree,
        root = r.root,
        part = r.part,
        join = r.join,
        sums = sums(FAMILY),
    );
    statement(
        opts,
        cursor,
        &ctes,
        &columns,
        "sent d JOIN pg_index ri ON ri.indexrelid = d.root
JOIN pg_class ic ON ic.oid = d.root
JOIN pg_class tc ON tc.oid = ri.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace",
    )
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    let catalog = &mut *ctx.catalog;
    each_database(ctx.conn, ctx.dsn, ctx.limits, FAMILY, |datname, conn| {
        catalog.read(conn, FAMILY, datname, sql)
    })
}
