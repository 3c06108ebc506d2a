//! `pg_stat_replication`: each standby's lag behind this server, in bytes and in seconds.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

/// On a cascading standby the reference position is what it received, not
/// `pg_current_wal_lsn()` (which fails during recovery).
pub(super) const SQL: &str = "/* pganalytics-agent */
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT r.application_name::text AS application_name, r.client_addr::text AS client_addr,
       r.state::text AS state, r.sync_state::text AS sync_state,
       pg_wal_lsn_diff(here.lsn, r.sent_lsn)::float8 AS sent_lag_bytes,
       pg_wal_lsn_diff(here.lsn, r.write_lsn)::float8 AS write_lag_bytes,
       pg_wal_lsn_diff(here.lsn, r.flush_lsn)::float8 AS flush_lag_bytes,
       pg_wal_lsn_diff(here.lsn, r.replay_lsn)::float8 AS replay_lag_bytes,
       extract(epoch FROM r.write_lag)::float8 AS write_lag_seconds,
       extract(epoch FROM r.flush_lag)::float8 AS flush_lag_seconds,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_seconds
FROM pg_stat_replication r CROSS JOIN here";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_replication", SQL)?])
}
