//! Where the target writes its server log, for the agent to tail it when it runs on the same
//! host: asked from `pg_settings` (which hides what the role may not read instead of failing).

use diesel::pg::PgConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::path::PathBuf;

use super::PgStatsError;

const SQL: &str = "/* pganalytics-agent */
SELECT (SELECT setting FROM pg_settings WHERE name = 'logging_collector')::text AS collector,
       (SELECT setting FROM pg_settings WHERE name = 'log_destination')::text AS destination,
       (SELECT setting FROM pg_settings WHERE name = 'log_directory')::text AS directory,
       (SELECT setting FROM pg_settings WHERE name = 'data_directory')::text AS data_directory,
       (SELECT setting FROM pg_settings WHERE name = 'log_line_prefix')::text AS line_prefix";

#[derive(Debug, QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Text>)]
    collector: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    destination: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    directory: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    data_directory: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    line_prefix: Option<String>,
}

/// The server's own view of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The log directory when the logging collector writes one (absolute).
    pub directory: Option<PathBuf>,
    /// `json`, `csv` or `stderr`: the richest format the server writes.
    pub format: &'static str,
    pub line_prefix: Option<String>,
}

pub fn log_settings(conn: &mut PgConnection) -> Result<LogSettings, PgStatsError> {
    let r: Row = diesel::sql_query(SQL)
        .get_result(conn)
        .map_err(|e| PgStatsError::query("log settings", &e))?;
    let destination = r.destination.unwrap_or_default();
    let format = if destination.contains("jsonlog") {
        "json"
    } else if destination.contains("csvlog") {
        "csv"
    } else {
        "stderr"
    };
    let directory = match (r.collector.as_deref(), r.directory) {
        (Some("on"), Some(dir)) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Some(dir)
            } else {
                r.data_directory.map(|d| PathBuf::from(d).join(dir))
            }
        }
        _ => None,
    };
    Ok(LogSettings {
        directory,
        format,
        line_prefix: r.line_prefix,
    })
}
