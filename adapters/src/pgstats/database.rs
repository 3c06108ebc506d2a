//! `pg_stat_database` with each database's size and transaction ID age (wraparound).

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

/// Block times are milliseconds (double) in PostgreSQL, microseconds (integer) here.
pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT db.datname::text AS datname,
       s.numbackends::float8 AS numbackends,
       s.xact_commit::int8 AS xact_commit, s.xact_rollback::int8 AS xact_rollback,
       s.blks_read::int8 AS blks_read, s.blks_hit::int8 AS blks_hit,
       s.tup_returned::int8 AS tup_returned, s.tup_fetched::int8 AS tup_fetched,
       s.tup_inserted::int8 AS tup_inserted, s.tup_updated::int8 AS tup_updated,
       s.tup_deleted::int8 AS tup_deleted, s.conflicts::int8 AS conflicts,
       s.temp_files::int8 AS temp_files, s.temp_bytes::int8 AS temp_bytes,
       s.deadlocks::int8 AS deadlocks,
       (s.blk_read_time * 1000)::int8 AS blk_read_time_us,
       (s.blk_write_time * 1000)::int8 AS blk_write_time_us,
       CASE WHEN has_database_privilege(db.oid, 'CONNECT')
            THEN pg_database_size(db.oid)::float8 END AS size_bytes,
       age(db.datfrozenxid)::float8 AS datfrozenxid_age,
       mxid_age(db.datminmxid)::float8 AS datminmxid_age,
       s.stats_reset AS stats_reset
FROM pg_database db JOIN pg_stat_database s ON s.datid = db.oid";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_database", SQL)?])
}
