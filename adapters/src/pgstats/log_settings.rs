//! Where the target writes its server log, for the agent to tail it when it runs on the same
//! host: asked from `pg_settings` (which hides what the role may not read instead of failing).

use diesel::pg::PgConnection;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::path::PathBuf;

use super::PgStatsError;

const SQL: &str = "/* pganalytics-agent */
SELECT (SELECT setting FROM pg_settings WHERE name = 'logging_collector')::text AS collector,
       (SELECT setting FROM pg_settings WHERE name = 'log_destination')::text AS destination,
       (SELECT setting FROM pg_settings WHERE name = 'log_directory')::text AS directory,
       (SELECT setting FROM pg_settings WHERE name = 'data_directory')::text AS data_directory,
       (SELECT setting FROM pg_settings WHERE name = 'log_line_prefix')::text AS line_prefix,
       (SELECT setting FROM pg_settings WHERE name = 'lc_messages')::text AS lc_messages,
       current_setting('server_version_num')::int AS version_num";

/// The zone abbreviations the server knows, and the current one of its `log_timezone`
/// (which wins: the log prints that zone's abbreviations).
const ZONES: &str = "/* pganalytics-agent */
SELECT abbrev, offset_seconds FROM (
  SELECT abbrev, extract(epoch FROM utc_offset)::int AS offset_seconds, 1 AS rank
    FROM pg_timezone_names WHERE name = current_setting('log_timezone')
  UNION ALL
  SELECT abbrev, extract(epoch FROM utc_offset)::int, 2 FROM pg_timezone_abbrevs
) z ORDER BY rank DESC";

#[derive(Debug, QueryableByName)]
struct ZoneRow {
    #[diesel(sql_type = Text)]
    abbrev: String,
    #[diesel(sql_type = Integer)]
    offset_seconds: i32,
}

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
    #[diesel(sql_type = Nullable<Text>)]
    lc_messages: Option<String>,
    #[diesel(sql_type = Integer)]
    version_num: i32,
}

/// The server's own view of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The log directory when the logging collector writes one (absolute).
    pub directory: Option<PathBuf>,
    /// `json`, `csv` or `stderr`: the richest format the server writes.
    pub format: &'static str,
    pub line_prefix: Option<String>,
    /// The language of its messages (`de_DE.UTF-8`), hidden from roles without
    /// `pg_read_all_settings` on some releases.
    pub lc_messages: Option<String>,
    /// The release's major version (15), which names its catalog (`postgres-15.mo`).
    pub major: u32,
    /// Zone abbreviations and their offsets in seconds, the `log_timezone`'s last (so it
    /// wins when the list is collected into a map).
    pub zones: Vec<(String, i32)>,
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
    let zones: Vec<ZoneRow> = diesel::sql_query(ZONES)
        .load(conn)
        .map_err(|e| PgStatsError::query("log time zones", &e))?;
    Ok(LogSettings {
        directory,
        format,
        line_prefix: r.line_prefix,
        lc_messages: r.lc_messages,
        major: u32::try_from(r.version_num / 10_000).unwrap_or(0),
        zones: zones
            .into_iter()
            .map(|z| (z.abbrev, z.offset_seconds))
            .collect(),
    })
}
