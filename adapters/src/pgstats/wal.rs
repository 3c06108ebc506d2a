//! `pg_stat_wal` (14+) and the WAL position (every version, also on a standby), whose rate
//! is the WAL generation rate.

use super::{Ctx, PG14, PG18, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

const POSITION: &str = "/* pganalytics-agent */
SELECT pg_is_in_recovery()::int::float8 AS in_recovery,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
        - '0/0'::pg_lsn)::float8 AS wal_position_bytes";

const FROM_14: &str = "/* pganalytics-agent */
SELECT pg_is_in_recovery()::int::float8 AS in_recovery,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
        - '0/0'::pg_lsn)::float8 AS wal_position_bytes,
       wal_records::int8 AS wal_records, wal_fpi::int8 AS wal_fpi, wal_bytes::int8 AS wal_bytes,
       wal_buffers_full::int8 AS wal_buffers_full, wal_write::int8 AS wal_write,
       wal_sync::int8 AS wal_sync, (wal_write_time * 1000)::int8 AS wal_write_time_us,
       (wal_sync_time * 1000)::int8 AS wal_sync_time_us, stats_reset AS stats_reset
FROM pg_stat_wal";

/// 18 moved the write and sync counts and times to `pg_stat_io`.
const FROM_18: &str = "/* pganalytics-agent */
SELECT pg_is_in_recovery()::int::float8 AS in_recovery,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
        - '0/0'::pg_lsn)::float8 AS wal_position_bytes,
       wal_records::int8 AS wal_records, wal_fpi::int8 AS wal_fpi, wal_bytes::int8 AS wal_bytes,
       wal_buffers_full::int8 AS wal_buffers_full, stats_reset AS stats_reset
FROM pg_stat_wal";

pub(super) fn sql(version: i32) -> Option<&'static str> {
    Some(match version {
        v if v >= PG18 => FROM_18,
        v if v >= PG14 => FROM_14,
        _ => POSITION,
    })
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    let sql = sql(ctx.version).unwrap_or(POSITION);
    Ok(vec![query::family_rows(ctx.conn, "pg_wal", sql)?])
}
