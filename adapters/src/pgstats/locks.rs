//! `pg_locks`: locks held and awaited, by database, lock type and mode.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT d.datname::text AS datname, l.locktype::text AS locktype, l.mode::text AS mode,
       count(*) FILTER (WHERE l.granted)::float8 AS granted,
       count(*) FILTER (WHERE NOT l.granted)::float8 AS waiting
FROM pg_locks l LEFT JOIN pg_database d ON d.oid = l.database
WHERE l.pid IS DISTINCT FROM pg_backend_pid()
GROUP BY 1, 2, 3";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_lock", SQL)?])
}
