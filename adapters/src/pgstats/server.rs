//! The instance as a whole: when it started, its connection limits and how many are used,
//! the freeze limits wraparound alerts compare with, checksum failures, the oldest prepared
//! transaction, how many statements `pg_stat_statements` had to evict, and the release.

use super::{Ctx, PG14, PG16, PgStatsError, query, statements};
use pganalytics_domain::collect::CollectedRows;

/// PostgreSQL 16 added `reserved_connections` beside `superuser_reserved_connections`.
pub(super) fn sql(version: i32, statements_schema: Option<&str>) -> String {
    let reserved = if version >= PG16 {
        "current_setting('superuser_reserved_connections')::int + current_setting('reserved_connections')::int"
    } else {
        "current_setting('superuser_reserved_connections')::int"
    };
    let dealloc = match statements_schema {
        // `pg_stat_statements_info` came with PostgreSQL 14 (extension 1.9).
        Some(schema) if version >= PG14 => {
            format!("(SELECT dealloc FROM {schema}.pg_stat_statements_info)::int8")
        }
        _ => "NULL::int8".to_owned(),
    };
    format!(
        "/* pganalytics-agent */
SELECT pg_postmaster_start_time() AS start_time,
       current_setting('max_connections')::float8 AS max_connections,
       ({reserved})::float8 AS reserved_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::float8
           AS connections,
       current_setting('autovacuum_freeze_max_age')::float8 AS autovacuum_freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::float8
           AS autovacuum_multixact_freeze_max_age,
       CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END::float8 AS in_recovery,
       (SELECT coalesce(sum(checksum_failures), 0) FROM pg_stat_database)::int8
           AS checksum_failures,
       (SELECT extract(epoch FROM now() - min(prepared)) FROM pg_prepared_xacts)::float8
           AS oldest_prepared_xact_seconds,
       {dealloc} AS statements_dealloc,
       current_setting('server_version_num')::float8 AS server_version_num"
    )
}

pub(super) fn collect(ctx: &mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError> {
    let schema = statements::extension_schema(ctx.conn).ok();
    let sql = sql(ctx.version, schema.as_deref());
    Ok(vec![query::family_rows(ctx.conn, "pg_server", &sql)?])
}
