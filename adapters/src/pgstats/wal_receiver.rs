//! `pg_stat_wal_receiver` on a standby: how far replay trails what was received, how old
//! the last replayed transaction is, and how long since the primary was last heard from.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT sender_host::text AS sender_host, status::text AS status,
       pg_wal_lsn_diff(flushed_lsn, pg_last_wal_replay_lsn())::float8 AS received_lag_bytes,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_lag_seconds,
       extract(epoch FROM now() - last_msg_receipt_time)::float8 AS last_message_age_seconds
FROM pg_stat_wal_receiver";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_wal_receiver", SQL)?])
}
