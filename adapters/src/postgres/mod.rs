//! Every store on PostgreSQL, with diesel-async and a deadpool pool.
//!
//! - Migrations from `migrations/` are embedded in the binary and run at start.
//! - Metric rows are written with binary COPY, one per block, on tokio-postgres (see
//!   `ingest.rs` for why that one path leaves Diesel).
//! - A batch's rows, its servers and its `batch_id` are written in one transaction; the
//!   `batch_id` primary key makes a replay write nothing, also under concurrency.
//! - Connections go to the URL as given, without TLS (see PITFALLS: diesel-async's default
//!   manager never negotiates TLS). The server's database is local or on a trusted link;
//!   TLS to a remote database is a later addition through `ManagerConfig::custom_setup`.

mod alerts;
mod evaluation;
mod ingest;
mod meta;
mod metrics;
mod people;
mod schema;
mod tiers;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use pganalytics_ports::store::{ConnectionPools, PoolUsage};
use pganalytics_ports::{BoxError, StoreError};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long a request waits for a connection before the store reports `Unavailable`.
    pub wait_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
        }
    }
}

/// All stores on one PostgreSQL database.
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    /// Connections for the ingest transaction (binary COPY); half the size of `pool`.
    ingest_pool: deadpool_postgres::Pool,
    /// Partitions known to exist, as `(tier, family, first day)`: saves a catalog round trip
    /// per block.
    partitions: Mutex<HashSet<metrics::PartitionKey>>,
    /// The database URL (may hold a password: never printed), for the leader session.
    url: String,
    /// The session holding leadership locks.
    leader: tokio::sync::Mutex<evaluation::LeaderState>,
    /// Where SQL alert rules log in, and their session.
    rule_reader_url: Option<String>,
    rule_reader: tokio::sync::Mutex<Option<AsyncPgConnection>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgSetupError {
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("migrations failed: {0}")]
    Migrate(String),
}

impl PgStore {
    /// Builds a pool for `url`. Connections are made lazily; call [`ping`](pganalytics_ports::store::MetricStore::ping)
    /// or [`migrate`] to check the database answers.
    pub fn connect(url: &str, opts: &PoolOptions) -> Result<Self, PgSetupError> {
        let mut config = ManagerConfig::default();
        // `Fast` still drops connections whose socket closed (a restarted database closes
        // them all; the outage test covers it), without a `SELECT 1` round trip on every
        // checkout (three per push). A connection that died silently fails its next query,
        // which is answered 503 and retried by the agent.
        config.recycling_method = RecyclingMethod::Fast;
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(opts.max_size)
            .wait_timeout(Some(opts.wait_timeout))
            .create_timeout(Some(opts.wait_timeout))
            .recycle_timeout(Some(opts.wait_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| PgSetupError::Pool(e.to_string()))?;
        let ingest_pool = ingest::pool(url, opts)?;
        Ok(Self {
            pool,
            ingest_pool,
            partitions: Mutex::new(HashSet::new()),
            url: url.to_owned(),
            leader: tokio::sync::Mutex::new((None, Default::default())),
            rule_reader_url: evaluation::rule_reader_url(url),
            rule_reader: tokio::sync::Mutex::new(None),
        })
    }

    /// SQL alert rules log in with this URL instead of the server's own with the rule
    /// reader's name (`sql_rules_url`).
    pub fn with_sql_rules_url(mut self, url: Option<String>) -> Self {
        if url.is_some() {
            self.rule_reader_url = url;
        }
        self
    }

    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

impl ConnectionPools for PgStore {
    /// Both pools: `size` open, `available` idle, `max`.
    fn pool_usage(&self) -> Vec<PoolUsage> {
        let (a, b) = (self.pool.status(), self.ingest_pool.status());
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        [
            ("main", a.size, a.available, a.max_size),
            ("ingest", b.size, b.available, b.max_size),
        ]
        .into_iter()
        .flat_map(|(pool, size, available, max)| {
            [("size", size), ("available", available), ("max", max)].map(|(state, count)| {
                PoolUsage {
                    pool,
                    state,
                    connections: n(count),
                }
            })
        })
        .collect()
    }
}

/// The advisory lock migrations run under, so that servers started together (an upgrade
/// behind a load balancer) apply them one at a time: the second finds nothing left to do.
const MIGRATION_LOCK: i64 = 0x7067_616e_6d69_6772; // "pganmigr"

/// Runs pending migrations on `url`, holding [`MIGRATION_LOCK`]. Blocking: call it from
/// `spawn_blocking` or a plain thread.
pub fn migrate(url: &str) -> Result<usize, PgSetupError> {
    use diesel::Connection as _;
    let lock = |conn: &mut _, f: &str| {
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("SELECT {f}({MIGRATION_LOCK})")),
            conn,
        )
    };
    let mut conn = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::<
        AsyncPgConnection,
    >::establish(url)
    .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    lock(&mut conn, "pg_advisory_lock")
        .map_err(|e| PgSetupError::Migrate(format!("waiting for the migration lock: {e}")))?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|a| a.len())
        .map_err(|e| PgSetupError::Migrate(e.to_string()));
    // Also released when the connection closes, which it does next.
    let _ = lock(&mut conn, "pg_advisory_unlock");
    applied
}

/// Creates `database` on the server at `admin_url` unless it exists (optionally as a copy of
/// `template`).
pub async fn ensure_database(
    admin_url: &str,
    database: &str,
    template: Option<&str>,
) -> Result<(), PgSetupError> {
    use diesel_async::AsyncConnection as _;
    let valid = |n: &str| {
        !n.is_empty() && n.len() < 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !valid(database) || template.is_some_and(|t| !valid(t)) {
        return Err(PgSetupError::Connect(format!(
            "invalid database name {database:?}"
        )));
    }
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(database)
            .get_result(&mut conn)
            .await
            .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    if !found.exists {
        let template = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        diesel::sql_query(format!("CREATE DATABASE {database}{template}"))
            .execute(&mut conn)
            .await
            .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    }
    Ok(())
}

/// `CREATE EXTENSION IF NOT EXISTS pg_stat_statements` in the database of `url` (the demo's
/// agent watches the server's own cluster; the module must be preloaded).
pub async fn ensure_pg_stat_statements(url: &str) -> Result<(), PgSetupError> {
    use diesel_async::AsyncConnection as _;
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut conn)
        .await
        .map_err(|e| PgSetupError::Connect(e.to_string()))?;
    Ok(())
}

fn pool_error(e: PoolError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Translates a driver error: unique violations are conflicts; a lost or refused connection
/// means the database is unavailable (the caller answers 503 and the agent retries).
pub(crate) fn store_error(e: DieselError, entity: &'static str) -> StoreError {
    match &e {
        DieselError::NotFound => StoreError::NotFound { entity },
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict { entity }
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => StoreError::Unavailable(Box::new(e)),
        DieselError::DatabaseError(_, info) if is_connection_loss(info.message()) => {
            StoreError::Unavailable(Box::new(e))
        }
        _ => StoreError::Unknown(Box::new(e) as BoxError),
    }
}

/// PostgreSQL's messages when a server shuts down or restarts under a session (SQLSTATE
/// 57P01–57P03 and class 08), which diesel reports with kind `Unknown`.
fn is_connection_loss(message: &str) -> bool {
    const PHRASES: &[&str] = &[
        "terminating connection",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "connection closed",
        "server closed the connection",
        "Connection reset",
        "Broken pipe",
    ];
    PHRASES.iter().any(|p| message.contains(p))
}
