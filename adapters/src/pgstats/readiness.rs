//! What `pganalytics-agent check` asks a target: the agent's role and privileges, and the
//! settings optional features depend on. Only what any role may read: superuser-only
//! settings come from `pg_settings`, which hides them from roles without the right.

use diesel::pg::PgConnection;
use diesel::sql_types::{Bool, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

use super::PgStatsError;

const SQL: &str = "/* pganalytics-agent */
SELECT current_user::text AS username,
       r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS pg_monitor,
       (SELECT 'pg_stat_statements' = ANY(string_to_array(replace(setting, ' ', ''), ','))
        FROM pg_settings WHERE name = 'shared_preload_libraries') AS statements_preloaded,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
           AS statements_installed,
       current_setting('track_io_timing')::bool AS track_io_timing,
       current_setting('server_version')::text AS server_version
FROM pg_roles r WHERE r.rolname = current_user";

#[derive(Debug, Clone, QueryableByName)]
pub struct Readiness {
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Bool)]
    pub superuser: bool,
    #[diesel(sql_type = Bool)]
    pub pg_monitor: bool,
    /// `None` when the role may not read the setting (not in `pg_read_all_settings`).
    #[diesel(sql_type = Nullable<Bool>)]
    pub statements_preloaded: Option<bool>,
    #[diesel(sql_type = Bool)]
    pub statements_installed: bool,
    #[diesel(sql_type = Bool)]
    pub track_io_timing: bool,
    #[diesel(sql_type = Text)]
    pub server_version: String,
}

pub fn readiness(conn: &mut PgConnection) -> Result<Readiness, PgStatsError> {
    diesel::sql_query(SQL)
        .get_result(conn)
        .map_err(|e| PgStatsError::query("check", &e))
}
