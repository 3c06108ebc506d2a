//! `pg_replication_slots`: WAL each slot keeps from being removed (an inactive slot fills
//! the disk) and how much more it may retain before it is invalidated.

use super::{Ctx, PgStatsError, query};
use pganalytics_domain::collect::CollectedRows;

pub(super) const SQL: &str = "/* pganalytics-agent */
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT s.slot_name::text AS slot_name, s.slot_type::text AS slot_type,
       s.database::text AS datname, s.active::int::float8 AS active,
       s.wal_status::text AS wal_status,
       pg_wal_lsn_diff(here.lsn, s.restart_lsn)::float8 AS retained_wal_bytes,
       s.safe_wal_size::float8 AS safe_wal_size_bytes
FROM pg_replication_slots s CROSS JOIN here";

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    Ok(vec![query::family_rows(
        ctx.conn,
        "pg_replication_slot",
        SQL,
    )?])
}
