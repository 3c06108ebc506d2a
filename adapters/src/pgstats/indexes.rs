//! `pg_stat_user_indexes` + `pg_statio_user_indexes`, sizes, validity and uniqueness, for
//! every database of the instance. Unused indexes are those whose `idx_scan` stays flat.

use super::{Ctx, PgStatsError, each_database, query};
use pganalytics_domain::collect::CollectedRows;

/// As for tables, no size is asked for an index whose table or itself is exclusively locked.
pub(super) const SQL: &str = concat!(
    "/* pganalytics-agent */\n",
    locked_relations_cte!(),
    "SELECT current_database()::text AS datname, s.schemaname::text AS schemaname,
       s.relname::text AS relname, s.indexrelname::text AS indexrelname,
       s.idx_scan::int8 AS idx_scan, s.idx_tup_read::int8 AS idx_tup_read,
       s.idx_tup_fetch::int8 AS idx_tup_fetch,
       io.idx_blks_read::int8 AS idx_blks_read, io.idx_blks_hit::int8 AS idx_blks_hit,
       CASE WHEN NOT EXISTS (SELECT 1 FROM locked
                             WHERE locked.relation IN (s.relid, s.indexrelid))
            THEN pg_relation_size(s.indexrelid)::float8 END AS size_bytes,
       i.indisvalid::int::float8 AS is_valid, i.indisunique::int::float8 AS is_unique
FROM pg_stat_user_indexes s
JOIN pg_statio_user_indexes io ON io.indexrelid = s.indexrelid
JOIN pg_index i ON i.indexrelid = s.indexrelid"
);

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    each_database(ctx, "pg_index", |conn| {
        query::family_rows(conn, "pg_index", SQL)
    })
}
