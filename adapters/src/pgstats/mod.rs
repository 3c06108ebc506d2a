//! PostgreSQL statistics of a monitored instance, read through libpq (Diesel's
//! `PgConnection`), so PGHOST, PGSERVICE, `.pgpass` and `sslmode` behave as DBAs expect.
//!
//! One file per statistics view, SQL as constants tagged `/* pganalytics-agent */`, version
//! gates as named constants (PostgreSQL 13–18). Doing no harm to the database watched:
//! - one connection per target, kept between cycles and re-opened after a failure; the
//!   per-database collectors (tables, indexes) open one database at a time and close it;
//! - every session runs read-only with `application_name = pganalytics-agent`,
//!   `statement_timeout`, `lock_timeout` and JIT off;
//! - relation sizes are not asked for relations someone holds an `AccessExclusiveLock` on,
//!   so a long `ALTER TABLE` never makes the agent queue behind it.

/// Relations someone holds an `AccessExclusiveLock` on in the current database: their sizes
/// are not asked for (a size takes an `AccessShareLock` and would queue behind it).
macro_rules! locked_relations_cte {
    () => {
        "locked AS (
    SELECT DISTINCT relation FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND relation IS NOT NULL
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)"
    };
}

mod activity;
mod archiver;
mod bgwriter;
mod database;
pub mod dsn;
mod indexes;
mod io;
mod locks;
mod log_settings;
mod query;
mod readiness;
mod relations;
mod replication;
mod server;
mod slots;
mod statements;
mod tables;
mod vacuum;
mod wal;
mod wal_receiver;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::schedule::Group;
use pganalytics_ports::sources::{Reading, Source, SourceError};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub use log_settings::{LogSettings, log_settings};
pub use readiness::{Readiness, readiness};
pub use relations::CatalogOptions;
pub use statements::StatementsOptions;

/// PostgreSQL 14: `pg_stat_wal`.
pub const PG14: i32 = 140_000;
/// PostgreSQL 16: `pg_stat_io`.
pub const PG16: i32 = 160_000;
/// PostgreSQL 17: `pg_stat_checkpointer` split from `pg_stat_bgwriter`; renamed block times
/// in `pg_stat_statements`.
pub const PG17: i32 = 170_000;
/// PostgreSQL 18: `pg_stat_wal` lost its write/sync columns to `pg_stat_io`.
pub const PG18: i32 = 180_000;
/// The oldest release supported.
pub const MIN_VERSION: i32 = 130_000;

#[derive(Debug, thiserror::Error)]
pub enum PgStatsError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{family}: {message}")]
    Query {
        family: &'static str,
        message: String,
    },
    #[error("PostgreSQL {0} is not supported (13 or newer is)")]
    Unsupported(String),
}

impl PgStatsError {
    /// The message without the family name (which a `SourceError` carries already).
    pub fn detail(&self) -> String {
        match self {
            Self::Query { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    fn query(family: &'static str, e: &dyn std::fmt::Display) -> Self {
        Self::Query {
            family,
            message: e.to_string(),
        }
    }
}

/// Session settings of every connection the agent opens.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(1),
        }
    }
}

/// Opens a session the way every collector wants it.
pub fn connect(dsn: &str, limits: &SessionLimits) -> Result<PgConnection, PgStatsError> {
    let mut conn = PgConnection::establish(&dsn::normalise(dsn))
        .map_err(|e| PgStatsError::Connect(e.to_string().trim().to_owned()))?;
    let setup = format!(
        "SET application_name = 'pganalytics-agent'; \
         SET statement_timeout = {}; SET lock_timeout = {}; \
         SET default_transaction_read_only = on; SET jit = off",
        limits.statement_timeout.as_millis(),
        limits.lock_timeout.as_millis()
    );
    conn.batch_execute(&setup)
        .map_err(|e| PgStatsError::Connect(e.to_string()))?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

/// `server_version_num`, refusing releases older than [`MIN_VERSION`].
pub fn server_version(conn: &mut PgConnection) -> Result<i32, PgStatsError> {
    let v: Version = diesel::sql_query(
        "/* pganalytics-agent */ SELECT current_setting('server_version_num')::int AS version",
    )
    .get_result(conn)
    .map_err(|e| PgStatsError::query("version", &e))?;
    if v.version < MIN_VERSION {
        return Err(PgStatsError::Unsupported(v.version.to_string()));
    }
    Ok(v.version)
}

/// One monitored PostgreSQL instance.
pub struct PgTarget {
    name: String,
    dsn: SecretString,
    limits: SessionLimits,
    conn: Option<(PgConnection, i32)>,
    statements: statements::StatementsState,
    catalog: relations::CatalogState,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("name", &self.name)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

/// A collector: the family it produces (its self-metrics label) and how it reads.
type Collect = fn(&mut Ctx<'_>) -> Result<Vec<CollectedRows>, PgStatsError>;

/// What a collector gets: the target's session, its version and its settings.
struct Ctx<'a> {
    conn: &'a mut PgConnection,
    version: i32,
    dsn: &'a str,
    limits: &'a SessionLimits,
    statements: &'a mut statements::StatementsState,
    catalog: &'a mut relations::CatalogState,
}

/// Every PostgreSQL collector, named after the family it produces; the catalog says which
/// group runs it ([`catalog::family_group`]).
const COLLECTORS: &[(&str, Collect)] = &[
    ("pg_activity", activity::collect),
    ("pg_lock", locks::collect),
    ("pg_vacuum_progress", vacuum::collect),
    ("pg_database", database::collect),
    ("pg_server", server::collect),
    ("pg_bgwriter", bgwriter::collect),
    ("pg_wal", wal::collect),
    ("pg_archiver", archiver::collect),
    ("pg_io", io::collect),
    ("pg_replication", replication::collect),
    ("pg_replication_slot", slots::collect),
    ("pg_wal_receiver", wal_receiver::collect),
    ("pg_table", tables::collect),
    ("pg_index", indexes::collect),
    ("pg_statement", statements::collect),
];

/// The collectors `group` runs, in table order.
fn collectors(group: Group) -> impl Iterator<Item = &'static (&'static str, Collect)> {
    COLLECTORS
        .iter()
        .filter(move |(family, _)| group.collects(family))
}

impl PgTarget {
    pub fn new(name: impl Into<String>, dsn: SecretString, limits: SessionLimits) -> Self {
        Self::with_statements(name, dsn, limits, StatementsOptions::default())
    }

    pub fn with_statements(
        name: impl Into<String>,
        dsn: SecretString,
        limits: SessionLimits,
        statements: StatementsOptions,
    ) -> Self {
        Self {
            name: name.into(),
            dsn,
            limits,
            conn: None,
            statements: statements::StatementsState::new(statements),
            catalog: relations::CatalogState::default(),
        }
    }

    /// How the table and index collectors summarise large catalogs.
    #[must_use]
    pub fn with_catalog(mut self, opts: CatalogOptions) -> Self {
        self.catalog = relations::CatalogState::new(opts);
        self
    }

    /// The open session, connecting first if there is none.
    fn session(&mut self) -> Result<(&mut PgConnection, i32), PgStatsError> {
        if self.conn.is_none() {
            let mut conn = connect(self.dsn.expose_secret(), &self.limits)?;
            let version = server_version(&mut conn)?;
            self.conn = Some((conn, version));
        }
        let (conn, version) = self.conn.as_mut().expect("just connected");
        Ok((conn, *version))
    }

    /// Runs one collector by name (for `check` and the tests).
    pub fn run(&mut self, family: &str) -> Result<Vec<CollectedRows>, PgStatsError> {
        let collect = COLLECTORS
            .iter()
            .find(|(name, _)| *name == family)
            .map(|(_, c)| *c)
            .ok_or_else(|| PgStatsError::query("collector", &format!("no collector {family}")))?;
        self.run_collector(collect)
    }

    fn run_collector(&mut self, collect: Collect) -> Result<Vec<CollectedRows>, PgStatsError> {
        self.session()?;
        let Self {
            conn,
            dsn,
            limits,
            statements,
            catalog,
            ..
        } = self;
        let (conn, version) = conn.as_mut().expect("session() connected");
        let mut ctx = Ctx {
            conn,
            version: *version,
            dsn: dsn.expose_secret(),
            limits,
            statements,
            catalog,
        };
        let result = collect(&mut ctx);
        if result.is_err() && self.connection_lost() {
            self.conn = None;
        }
        result
    }

    /// Whether the session is gone (the server restarted, the network broke): then the next
    /// collector reconnects instead of failing on a dead socket.
    fn connection_lost(&mut self) -> bool {
        self.conn.as_mut().is_none_or(|(conn, _)| {
            diesel::sql_query("/* pganalytics-agent */ SELECT 1")
                .execute(conn)
                .is_err()
        })
    }

    pub fn version(&mut self) -> Result<i32, PgStatsError> {
        self.session().map(|(_, v)| v)
    }

    /// The instance's data directory, when the agent's role may read it (`pg_monitor`) and
    /// the server runs on this host: disk usage then labels its file system (and WAL's).
    pub fn data_directory(&mut self) -> Option<std::path::PathBuf> {
        #[derive(QueryableByName)]
        struct Dir {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dir: String,
        }
        let (conn, _) = self.session().ok()?;
        let d: Dir = diesel::sql_query(
            "/* pganalytics-agent */ SELECT current_setting('data_directory') AS dir",
        )
        .get_result(conn)
        .ok()?;
        let path = std::path::PathBuf::from(d.dir);
        path.is_dir().then_some(path)
    }

    /// The agent's privileges and the settings optional features need.
    pub fn readiness(&mut self) -> Result<Readiness, PgStatsError> {
        let (conn, _) = self.session()?;
        readiness(conn)
    }

    /// Where the target writes its server log (for the agent's log tailer).
    pub fn log_settings(&mut self) -> Result<LogSettings, PgStatsError> {
        let (conn, _) = self.session()?;
        log_settings(conn)
    }

    /// Every collector of every group, by name (for `check`).
    pub fn collector_names() -> Vec<&'static str> {
        COLLECTORS.iter().map(|(name, _)| *name).collect()
    }

    /// Closes the session (the next collector reconnects).
    pub fn disconnect(&mut self) {
        self.conn = None;
    }
}

impl Source for PgTarget {
    fn instance(&self) -> &str {
        &self.name
    }

    fn collectors(&self, group: Group) -> Vec<&'static str> {
        collectors(group).map(|(name, _)| *name).collect()
    }

    fn read(&mut self, collector: &'static str) -> Reading {
        Reading::timed(collector, || {
            self.run(collector)
                .map_err(|e| SourceError::new(collector, e.detail()))
        })
    }
}

/// The databases whose tables and indexes the agent reads: every database that accepts
/// connections and that the agent's role may connect to.
const DATABASES_SQL: &str = "/* pganalytics-agent */
SELECT datname::text AS datname FROM pg_database
WHERE datallowconn AND NOT datistemplate AND has_database_privilege(oid, 'CONNECT')
ORDER BY datname";

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Runs `per_database` on each database of the instance in turn (given its name), one
/// connection at a time. A database that cannot be read is reported and skipped; the others
/// still count.
fn each_database(
    conn: &mut PgConnection,
    dsn: &str,
    limits: &SessionLimits,
    family: &'static str,
    mut per_database: impl FnMut(&str, &mut PgConnection) -> Result<CollectedRows, PgStatsError>,
) -> Result<Vec<CollectedRows>, PgStatsError> {
    let databases: Vec<DatabaseName> = diesel::sql_query(DATABASES_SQL)
        .load(conn)
        .map_err(|e| PgStatsError::query(family, &e))?;
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for db in databases {
        let read = connect(&dsn::with_dbname(dsn, &db.datname), limits)
            .and_then(|mut conn| per_database(&db.datname, &mut conn));
        match read {
            Ok(rows) => out.push(rows),
            Err(e) => failures.push(format!("{}: {e}", db.datname)),
        }
    }
    if out.is_empty() && !failures.is_empty() {
        return Err(PgStatsError::query(family, &failures.join("; ")));
    }
    Ok(out)
}

/// Test support: the name and type of every column `sql` returns, whatever its row count
/// (through a temporary view), so collectors whose views are often empty are checked too.
pub fn describe(conn: &mut PgConnection, sql: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        ty: String,
    }
    conn.batch_execute(&format!(
        "DROP VIEW IF EXISTS pg_temp.pga_describe; CREATE TEMP VIEW pga_describe AS {sql}"
    ))
    .map_err(|e| e.to_string())?;
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT attname::text AS name, format_type(atttypid, atttypmod) AS ty
         FROM pg_attribute WHERE attrelid = 'pg_temp.pga_describe'::regclass AND attnum > 0
         ORDER BY attnum",
    )
    .load(conn)
    .map_err(|e| e.to_string())?;
    Ok(cols.into_iter().map(|c| (c.name, c.ty)).collect())
}

/// Test support: every collector's SQL for `version`, by family.
pub fn all_sql(version: i32) -> Vec<(&'static str, std::borrow::Cow<'static, str>)> {
    let mut out: Vec<(&'static str, std::borrow::Cow<'static, str>)> = vec![
        ("pg_activity", activity::SQL.into()),
        ("pg_lock", locks::SQL.into()),
        ("pg_vacuum_progress", vacuum::SQL.into()),
        ("pg_database", database::SQL.into()),
        ("pg_server", server::sql(version, None).into()),
        ("pg_bgwriter", bgwriter::sql(version).into()),
        ("pg_archiver", archiver::SQL.into()),
        ("pg_replication", replication::SQL.into()),
        ("pg_replication_slot", slots::SQL.into()),
        ("pg_wal_receiver", wal_receiver::SQL.into()),
        (
            "pg_table",
            tables::sql(&CatalogOptions::default(), 0).into(),
        ),
        (
            "pg_index",
            indexes::sql(&CatalogOptions::default(), 0).into(),
        ),
    ];
    out.extend(wal::sql(version).map(|s| ("pg_wal", s.into())));
    out.extend(io::sql(version).map(|s| ("pg_io", s.into())));
    out
}

#[cfg(test)]
mod tests {
    use super::COLLECTORS;
    use pganalytics_domain::catalog::{Group, family_group};

    #[test]
    fn every_collector_produces_a_scheduled_catalog_family_and_each_once() {
        for (i, (family, _)) in COLLECTORS.iter().enumerate() {
            assert!(family_group(family).is_some(), "{family}");
            assert!(
                !COLLECTORS[..i].iter().any(|(f, _)| f == family),
                "{family}"
            );
        }
        // Every PostgreSQL family of a group has its collector (statement texts come with
        // the statements collector).
        for group in Group::ALL {
            for f in group.families().filter(|f| f.name.starts_with("pg_")) {
                assert!(
                    f.name == "pg_statement_text" || COLLECTORS.iter().any(|(c, _)| *c == f.name),
                    "{}",
                    f.name
                );
            }
        }
    }
}
