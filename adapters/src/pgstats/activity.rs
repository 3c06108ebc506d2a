//! `pg_stat_activity`, aggregated: client sessions by database, state and wait event type,
//! with the oldest transaction, the longest running query, the longest idle-in-transaction
//! session and how many sessions wait on a lock another session holds.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

/// `pg_blocking_pids` is only asked for sessions waiting on a heavyweight lock: it takes
/// the lock manager's partition locks, which is not free on a busy server.
pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT datname::text AS datname,
       coalesce(state, 'unknown')::text AS state,
       wait_event_type::text AS wait_event_type,
       count(*)::float8 AS sessions,
       extract(epoch FROM max(now() - xact_start))::float8 AS longest_xact_seconds,
       extract(epoch FROM max(now() - query_start) FILTER (WHERE state = 'active'))::float8
           AS longest_query_seconds,
       extract(epoch FROM max(now() - state_change)
           FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')))::float8
           AS longest_idle_in_xact_seconds,
       count(*) FILTER (WHERE wait_event_type = 'Lock'
                         AND cardinality(pg_blocking_pids(pid)) > 0)::float8 AS blocked_sessions
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_activity", SQL)?])
}
