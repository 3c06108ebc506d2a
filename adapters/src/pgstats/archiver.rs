//! `pg_stat_archiver`: WAL archiving progress and failures.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

pub(super) const SQL: &str = "/* pganalytics-agent */
SELECT archived_count::int8 AS archived_count, failed_count::int8 AS failed_count,
       last_archived_wal::text AS last_archived_wal, last_archived_time AS last_archived_time,
       last_failed_wal::text AS last_failed_wal, last_failed_time AS last_failed_time,
       stats_reset AS stats_reset
FROM pg_stat_archiver";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(ctx.conn, "pg_archiver", SQL)?])
}
