//! `pg_stat_bgwriter`, and from 17 on `pg_stat_checkpointer` (the checkpoint columns moved
//! there; backend writes moved to `pg_stat_io` and are left empty here).

use super::{Ctx, PG17, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

const BEFORE_17: &str = "/* pganalytics-agent */
SELECT checkpoints_timed::int8 AS checkpoints_timed, checkpoints_req::int8 AS checkpoints_req,
       (checkpoint_write_time * 1000)::int8 AS checkpoint_write_time_us,
       (checkpoint_sync_time * 1000)::int8 AS checkpoint_sync_time_us,
       buffers_checkpoint::int8 AS buffers_checkpoint, buffers_clean::int8 AS buffers_clean,
       maxwritten_clean::int8 AS maxwritten_clean, buffers_backend::int8 AS buffers_backend,
       buffers_backend_fsync::int8 AS buffers_backend_fsync,
       buffers_alloc::int8 AS buffers_alloc, stats_reset AS stats_reset
FROM pg_stat_bgwriter";

const FROM_17: &str = "/* pganalytics-agent */
SELECT c.num_timed::int8 AS checkpoints_timed, c.num_requested::int8 AS checkpoints_req,
       (c.write_time * 1000)::int8 AS checkpoint_write_time_us,
       (c.sync_time * 1000)::int8 AS checkpoint_sync_time_us,
       c.buffers_written::int8 AS buffers_checkpoint, b.buffers_clean::int8 AS buffers_clean,
       b.maxwritten_clean::int8 AS maxwritten_clean, b.buffers_alloc::int8 AS buffers_alloc,
       c.stats_reset AS stats_reset
FROM pg_stat_checkpointer c CROSS JOIN pg_stat_bgwriter b";

pub(super) fn sql(version: i32) -> &'static str {
    if version >= PG17 { FROM_17 } else { BEFORE_17 }
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(
        ctx.conn,
        "pg_bgwriter",
        sql(ctx.version),
    )?])
}
