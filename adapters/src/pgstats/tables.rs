//! `pg_stat_user_tables` + `pg_statio_user_tables`, sizes and `age(relfrozenxid)`, for every
//! database of the instance (one connection at a time).

use super::{Ctx, PgStatsError, each_database, query};
use pganalytics_domain::collect::CollectedRows;

/// Sizes take an `AccessShareLock`: they are skipped (NULL) for relations someone holds an
/// `AccessExclusiveLock` on, rather than wait behind a long `ALTER TABLE` (and make every
/// session queued behind us wait too).
pub(super) const SQL: &str = concat!(
    "/* pganalytics-agent */\n",
    locked_relations_cte!(),
    "SELECT current_database()::text AS datname, s.schemaname::text AS schemaname,
       s.relname::text AS relname,
       s.seq_scan::int8 AS seq_scan, s.seq_tup_read::int8 AS seq_tup_read,
       s.idx_scan::int8 AS idx_scan, s.idx_tup_fetch::int8 AS idx_tup_fetch,
       s.n_tup_ins::int8 AS n_tup_ins, s.n_tup_upd::int8 AS n_tup_upd,
       s.n_tup_del::int8 AS n_tup_del, s.n_tup_hot_upd::int8 AS n_tup_hot_upd,
       s.n_live_tup::float8 AS n_live_tup, s.n_dead_tup::float8 AS n_dead_tup,
       s.n_mod_since_analyze::float8 AS n_mod_since_analyze,
       s.vacuum_count::int8 AS vacuum_count, s.autovacuum_count::int8 AS autovacuum_count,
       s.analyze_count::int8 AS analyze_count, s.autoanalyze_count::int8 AS autoanalyze_count,
       io.heap_blks_read::int8 AS heap_blks_read, io.heap_blks_hit::int8 AS heap_blks_hit,
       io.idx_blks_read::int8 AS idx_blks_read, io.idx_blks_hit::int8 AS idx_blks_hit,
       io.toast_blks_read::int8 AS toast_blks_read, io.toast_blks_hit::int8 AS toast_blks_hit,
       CASE WHEN l.relation IS NULL THEN pg_relation_size(s.relid)::float8 END
           AS table_size_bytes,
       CASE WHEN l.relation IS NULL THEN pg_indexes_size(s.relid)::float8 END
           AS indexes_size_bytes,
       CASE WHEN l.relation IS NULL AND c.reltoastrelid <> 0
            THEN pg_total_relation_size(c.reltoastrelid)::float8 END AS toast_size_bytes,
       age(c.relfrozenxid)::float8 AS relfrozenxid_age,
       s.last_vacuum AS last_vacuum, s.last_autovacuum AS last_autovacuum,
       s.last_analyze AS last_analyze, s.last_autoanalyze AS last_autoanalyze
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN locked l ON l.relation = s.relid"
);

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    each_database(ctx, "pg_table", |conn| {
        query::family_rows(conn, "pg_table", SQL)
    })
}
