//! `pg_stat_io` (16+): I/O by backend type, object and context. Rows that never did any
//! I/O are left out (most combinations of the three).

use super::{Ctx, PG16, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

const FROM_16: &str = "/* pganalytics-agent */
SELECT backend_type::text AS backend_type, object::text AS object, context::text AS context,
       reads::int8 AS reads, (read_time * 1000)::int8 AS read_time_us,
       writes::int8 AS writes, (write_time * 1000)::int8 AS write_time_us,
       writebacks::int8 AS writebacks, extends::int8 AS extends, hits::int8 AS hits,
       evictions::int8 AS evictions, reuses::int8 AS reuses, fsyncs::int8 AS fsyncs,
       (fsync_time * 1000)::int8 AS fsync_time_us
FROM pg_stat_io
WHERE greatest(reads, writes, writebacks, extends, hits, evictions, reuses, fsyncs) > 0";

pub(super) fn sql(version: i32) -> Option<&'static str> {
    (version >= PG16).then_some(FROM_16)
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(match sql(ctx.version) {
        Some(sql) => vec![query::family_rows(ctx.conn, "pg_io", sql)?],
        None => Vec::new(),
    })
}
