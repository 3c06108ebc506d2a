use pganalytics_ports::env::{Clock, IdSource};
use pganalytics_ports::{Backend, Services};
use secrecy::{ExposeSecret, SecretString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BackendError, Context as _};
use crate::jwt::JoseSigner;
use crate::local_postgres::{ClusterOptions, LocalCluster, PgBinaries, running_as_root};
use crate::password::Bcrypt;
use crate::pki::OpensslCa;
use crate::postgres::{self, PgStore, PoolOptions};
use crate::secrets::KeyRing;

/// The database the server keeps its data in, on the private cluster.
pub const DATABASE_NAME: &str = "pganalytics";

/// Where and how the server keeps its data.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// The CA, the keys and the private cluster live here.
    pub data_dir: PathBuf,
    /// An external database; without it, a private cluster under `data_dir`.
    pub database_url: Option<SecretString>,
    /// Where `initdb` and `postgres` are, for the private cluster.
    pub pg_bindir: Option<PathBuf>,
    pub pool_size: usize,
    pub bcrypt_cost: u32,
    /// The secrets key ring's text; without it, `secrets_key_file`.
    pub secrets_keys: Option<SecretString>,
    /// Default: `<data_dir>/secrets.keys`, created on first start.
    pub secrets_key_file: Option<PathBuf>,
    /// Where SQL alert rules log in; default: the database's URL as the rule reader.
    pub sql_rules_url: Option<SecretString>,
}

/// What opening did, for the shell to log.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// The private cluster's socket directory, and whether this process started it (rather
    /// than finding it running).
    pub private_cluster: Option<(PathBuf, bool)>,
    pub migrations_applied: usize,
}

/// The stores on PostgreSQL and the keys in the data directory.
pub struct PostgresBackend {
    backend: Backend,
    report: OpenReport,
    monitoring_dsn: SecretString,
    /// The private cluster, when no `database_url` is set. Dropped last: stops PostgreSQL
    /// if this process started it.
    cluster: Option<LocalCluster>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("private_cluster", &self.cluster.is_some())
            .finish_non_exhaustive()
    }
}

fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    // Keys inside are 0600. When we are root the private cluster runs as `postgres`, which
    // must be able to traverse (not list) this directory.
    let mode = if running_as_root() { 0o711 } else { 0o700 };
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// The private cluster runs the way we recommend a monitored server to: query statistics
/// (when the binaries ship them), and a server log the agent can read (the demo's agent tails
/// it) — a week of daily files, each day overwriting last week's, so it never fills the disk.
fn private_cluster_settings(binaries: &PgBinaries) -> Vec<(String, String)> {
    let mut settings = vec![
        ("logging_collector", "on"),
        ("log_directory", "log"),
        ("log_filename", "postgresql-%a.log"),
        ("log_truncate_on_rotation", "on"),
        ("log_rotation_age", "1d"),
        ("log_rotation_size", "0"),
        ("log_line_prefix", "%m [%p] %q%u@%d %e "),
        ("log_checkpoints", "on"),
        ("log_lock_waits", "on"),
        ("log_temp_files", "0"),
        ("log_autovacuum_min_duration", "1s"),
        ("log_min_duration_statement", "1s"),
    ];
    if binaries.has_module("pg_stat_statements") {
        settings.push(("shared_preload_libraries", "pg_stat_statements"));
    }
    settings
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn start_private_cluster(settings: &StorageSettings) -> Result<LocalCluster, BackendError> {
    let bins = PgBinaries::locate(settings.pg_bindir.as_deref()).part("PostgreSQL")?;
    let mut opts = ClusterOptions::new(settings.data_dir.join("postgres"), bins);
    opts.settings = private_cluster_settings(&opts.binaries);
    let cluster = tokio::task::spawn_blocking(move || LocalCluster::start(opts))
        .await
        .part("the private PostgreSQL cluster")?
        .part("the private PostgreSQL cluster")?;
    postgres::ensure_database(&cluster.url("postgres"), DATABASE_NAME, None)
        .await
        .part("the server's database")?;
    Ok(cluster)
}

impl PostgresBackend {
    /// Opens (creating on first use) the data directory, the database and the keys, and
    /// runs pending migrations.
    pub async fn open(
        settings: &StorageSettings,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Self, BackendError> {
        prepare_data_dir(&settings.data_dir).part("the data directory")?;
        let mut report = OpenReport::default();
        let (url, monitoring_dsn, cluster) = match &settings.database_url {
            Some(url) => (url.expose_secret().to_owned(), url.clone(), None),
            None => {
                let cluster = start_private_cluster(settings).await?;
                report.private_cluster = Some((cluster.socket_dir(), cluster.owns_postmaster()));
                let dsn = SecretString::from(cluster.url("postgres"));
                (cluster.url(DATABASE_NAME), dsn, Some(cluster))
            }
        };
        let migrate_url = url.clone();
        report.migrations_applied =
            tokio::task::spawn_blocking(move || postgres::migrate(&migrate_url))
                .await
                .part("the migrations")?
                .part("the migrations")?;
        let store = PgStore::connect(
            &url,
            &PoolOptions {
                max_size: settings.pool_size,
                ..PoolOptions::default()
            },
        )
        .part("the connection pool")?
        .with_sql_rules_url(
            settings
                .sql_rules_url
                .as_ref()
                .map(|u| u.expose_secret().to_owned()),
        );
        let now = clock.now();
        let key_file = settings
            .secrets_key_file
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("secrets.keys"));
        let services = Services {
            notifier: Arc::new(crate::notify::HttpNotifier::new(clock.clone(), "")),
            ca: Arc::new(
                OpensslCa::load_or_create(&settings.data_dir, now)
                    .part("the certificate authority")?,
            ),
            signer: Arc::new(
                JoseSigner::load_or_create(&settings.data_dir.join("jwt.key"))
                    .part("the token key")?,
            ),
            hasher: Arc::new(Bcrypt::new(settings.bcrypt_cost).part("the password hasher")?),
            cipher: Arc::new(
                KeyRing::load_or_create(settings.secrets_keys.as_ref(), &key_file, now)
                    .part("the secrets key ring")?,
            ),
            clock,
            ids,
        };
        Ok(Self {
            backend: Backend::from_store(Arc::new(store), services),
            report,
            monitoring_dsn,
            cluster,
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn report(&self) -> &OpenReport {
        &self.report
    }

    /// Where an agent that monitors the server's own PostgreSQL connects (the demo's): the
    /// private cluster's `postgres` database, or the external database.
    pub fn monitoring_dsn(&self) -> &SecretString {
        &self.monitoring_dsn
    }

    /// Whether the server runs its own private cluster.
    pub fn has_private_cluster(&self) -> bool {
        self.cluster.is_some()
    }
}
