//! `pg_stat_progress_vacuum`: vacuums running now (manual and autovacuum), how far along.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

/// Relation names resolve only in the database the agent is connected to; elsewhere the OID
/// is reported. Columns common to 13–18 only (17 renamed the dead-tuple counters).
pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT p.datname::text AS datname,
       CASE WHEN p.datname = current_database() THEN p.relid::regclass::text
            ELSE p.relid::text END AS relname,
       p.phase::text AS phase,
       p.pid::float8 AS pid,
       p.heap_blks_total::float8 AS heap_blks_total,
       p.heap_blks_scanned::float8 AS heap_blks_scanned,
       p.heap_blks_vacuumed::float8 AS heap_blks_vacuumed,
       p.index_vacuum_count::float8 AS index_vacuum_count,
       extract(epoch FROM now() - a.xact_start)::float8 AS duration_seconds
FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a ON a.pid = p.pid";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(
        ctx.conn,
        "pg_vacuum_progress",
        SQL,
    )?])
}
