//! Wiring: settings → adapters → use cases → HTTP server. No business rule lives here.

use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use pganalytics_adapters::jwt::JoseSigner;
use pganalytics_adapters::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use pganalytics_adapters::password::Bcrypt;
use pganalytics_adapters::pki::OpensslCa;
use pganalytics_adapters::postgres::{self, PgStore, PoolOptions};
use pganalytics_adapters::secrets::KeyRing;
use pganalytics_adapters::system::{OsRandom, SystemClock};
use pganalytics_domain::batch::BatchLimits;
use pganalytics_ports::env::Clock;
use pganalytics_ports::store::AuditStore;
use pganalytics_ports::store::MetricStore;
use pganalytics_ports::usecases::{
    AuditLog, AuthenticateCollector, AuthenticatePerson, CollectorAdmin, CreateApiToken,
    CreateRegistrationToken, CurrentCertificate, GetCollectorConfig, IngestBatch, Login, Logout,
    QueryMetrics, RefreshCollectorToken, RefreshSession, RegisterCollector,
    RenewCollectorCertificate, Secrets, ServerCatalog, UpdateCollectorConfig, UserAdmin,
};

use crate::hygiene::{Budget, RateLimits};
use crate::selfmetrics::Metrics;
use secrecy::ExposeSecret;
use slog::{Logger, error, info, o, warn};
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::settings::Settings;

static ERROR_LOGGER: OnceLock<Logger> = OnceLock::new();

/// Logs an unexpected error's cause chain (called once per error, where it becomes a 500).
pub fn log_internal_error(chain: &str) {
    if let Some(log) = ERROR_LOGGER.get() {
        error!(log, "unexpected error while handling a request"; "cause" => chain);
    }
}

/// Everything with state the server and the CLI share: the database, the CA, the token key.
pub struct Backend {
    pub store: Arc<PgStore>,
    pub ca: Arc<OpensslCa>,
    pub signer: Arc<JoseSigner>,
    pub hasher: Arc<Bcrypt>,
    pub keyring: Arc<KeyRing>,
    /// The private cluster, when no `database_url` is set. Dropped last: stops PostgreSQL
    /// if this process started it.
    pub cluster: Option<LocalCluster>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("private_cluster", &self.cluster.is_some())
            .finish_non_exhaustive()
    }
}

pub const DATABASE_NAME: &str = "pganalytics";

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    // Keys inside are 0600. When we are root the private cluster runs as `postgres`, which
    // must be able to traverse (not list) this directory.
    let mode = if pganalytics_adapters::local_postgres::running_as_root() {
        0o711
    } else {
        0o700
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("securing {}", dir.display()))?;
    Ok(())
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

impl Backend {
    /// Opens (creating on first use) the data directory, the database and the keys, and
    /// runs pending migrations.
    pub async fn open(settings: &Settings, log: &Logger) -> anyhow::Result<Self> {
        prepare_data_dir(&settings.data_dir)?;
        let (url, cluster) = match &settings.database_url {
            Some(url) => (url.expose_secret().to_owned(), None),
            None => {
                let bins = PgBinaries::locate(settings.pg_bindir.as_deref())?;
                let mut opts = ClusterOptions::new(settings.data_dir.join("postgres"), bins);
                opts.settings = private_cluster_settings(&opts.binaries);
                let cluster =
                    tokio::task::spawn_blocking(move || LocalCluster::start(opts)).await??;
                info!(log, "private PostgreSQL cluster is up"; "socket_dir" => %cluster.socket_dir().display(),
                      "started_here" => cluster.owns_postmaster());
                postgres::ensure_database(&cluster.url("postgres"), DATABASE_NAME, None).await?;
                (cluster.url(DATABASE_NAME), Some(cluster))
            }
        };
        let migrate_url = url.clone();
        let applied =
            tokio::task::spawn_blocking(move || postgres::migrate(&migrate_url)).await??;
        if applied > 0 {
            info!(log, "database migrations applied"; "count" => applied);
        }
        let store = PgStore::connect(
            &url,
            &PoolOptions {
                max_size: settings.pool_size,
                ..PoolOptions::default()
            },
        )?;
        let ca = OpensslCa::load_or_create(&settings.data_dir, SystemClock.now())?;
        let signer = JoseSigner::load_or_create(&settings.data_dir.join("jwt.key"))?;
        let key_file = settings
            .secrets_key_file
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("secrets.keys"));
        let keyring = KeyRing::load_or_create(settings.secrets_keys.as_ref(), &key_file)
            .context("loading the secrets key ring")?;
        Ok(Self {
            store: Arc::new(store),
            ca: Arc::new(ca),
            signer: Arc::new(signer),
            hasher: Arc::new(Bcrypt::new(settings.bcrypt_cost)?),
            keyring: Arc::new(keyring),
            cluster,
        })
    }

    pub fn user_admin(&self) -> UserAdmin {
        UserAdmin {
            users: self.store.clone(),
            hasher: self.hasher.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(OsRandom),
        }
    }

    pub fn secrets(&self) -> Secrets {
        Secrets {
            store: self.store.clone(),
            cipher: self.keyring.clone(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn create_registration_token(&self) -> CreateRegistrationToken {
        CreateRegistrationToken {
            tokens: self.store.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(OsRandom),
        }
    }

    pub fn create_api_token(&self) -> CreateApiToken {
        CreateApiToken {
            tokens: self.store.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(OsRandom),
        }
    }
}

/// Use cases the routes call, shared by every worker.
pub struct AppState {
    pub register: RegisterCollector,
    pub auth_collector: Arc<AuthenticateCollector>,
    pub refresh_token: RefreshCollectorToken,
    pub renew: RenewCollectorCertificate,
    pub current_certificate: CurrentCertificate,
    pub ingest: IngestBatch,
    pub config: GetCollectorConfig,
    pub update_config: UpdateCollectorConfig,
    pub query: QueryMetrics,
    pub collectors: CollectorAdmin,
    pub servers: ServerCatalog,
    pub login: Login,
    pub refresh: RefreshSession,
    pub logout: Logout,
    pub auth_person: AuthenticatePerson,
    pub users: UserAdmin,
    pub api_tokens: CreateApiToken,
    pub registration_tokens: CreateRegistrationToken,
    pub audit_log: AuditLog,
    pub audit_store: Arc<dyn AuditStore>,
    pub health: Arc<dyn MetricStore>,
    pub store: Arc<PgStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub rate_limits: RateLimits,
    pub metrics_require_auth: bool,
    pub max_body_bytes: usize,
    pub max_batch_bytes: usize,
    pub max_json_depth: usize,
    pub log: Logger,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState")
    }
}

impl AppState {
    pub fn new(b: &Backend, settings: &Settings, log: Logger) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ids = Arc::new(OsRandom);
        let auth_collector = Arc::new(AuthenticateCollector {
            collectors: b.store.clone(),
            signer: b.signer.clone(),
            clock: clock.clone(),
        });
        let limits = BatchLimits::default();
        Self {
            register: RegisterCollector {
                tokens: b.store.clone(),
                collectors: b.store.clone(),
                ca: b.ca.clone(),
                signer: b.signer.clone(),
                clock: clock.clone(),
                ids: ids.clone(),
            },
            refresh_token: RefreshCollectorToken {
                auth: auth_collector.clone(),
                signer: b.signer.clone(),
                clock: clock.clone(),
                ids,
            },
            renew: RenewCollectorCertificate {
                auth: auth_collector.clone(),
                collectors: b.store.clone(),
                ca: b.ca.clone(),
                clock: clock.clone(),
            },
            current_certificate: CurrentCertificate {
                collectors: b.store.clone(),
            },
            auth_collector,
            ingest: IngestBatch {
                metrics: b.store.clone(),
                collectors: b.store.clone(),
                clock: clock.clone(),
                limits,
            },
            config: GetCollectorConfig {
                collectors: b.store.clone(),
            },
            update_config: UpdateCollectorConfig {
                collectors: b.store.clone(),
                clock: clock.clone(),
            },
            query: QueryMetrics {
                metrics: b.store.clone(),
                max_rows: 500_000,
                max_points_per_series: 11_000,
            },
            login: Login::new(
                b.store.clone(),
                b.store.clone(),
                b.store.clone(),
                b.hasher.clone(),
                b.signer.clone(),
                clock.clone(),
                Arc::new(OsRandom),
            ),
            refresh: RefreshSession::new(
                b.store.clone(),
                b.signer.clone(),
                clock.clone(),
                Arc::new(OsRandom),
            ),
            logout: Logout {
                sessions: b.store.clone(),
                clock: clock.clone(),
            },
            auth_person: AuthenticatePerson {
                tokens: b.store.clone(),
                sessions: b.store.clone(),
                signer: b.signer.clone(),
                clock: clock.clone(),
            },
            users: b.user_admin(),
            api_tokens: b.create_api_token(),
            registration_tokens: b.create_registration_token(),
            audit_log: AuditLog {
                audit: b.store.clone(),
            },
            audit_store: b.store.clone(),
            store: b.store.clone(),
            metrics: Metrics::default(),
            rate_limits: RateLimits {
                people_by_address: Budget::new(
                    settings.rate_people_per_second,
                    settings.rate_people_burst,
                ),
                people_by_credential: Budget::new(
                    settings.rate_people_per_second,
                    settings.rate_people_burst,
                ),
                ingest: Budget::new(settings.rate_ingest_per_second, settings.rate_ingest_burst),
            },
            metrics_require_auth: settings.metrics_require_auth,
            max_json_depth: settings.max_json_depth,
            collectors: CollectorAdmin {
                collectors: b.store.clone(),
                clock: clock.clone(),
            },
            servers: ServerCatalog {
                metrics: b.store.clone(),
            },
            health: b.store.clone(),
            clock,
            max_body_bytes: settings.max_body_bytes,
            max_batch_bytes: settings.max_batch_bytes,
            log,
        }
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub server: actix_web::dev::Server,
    pub backend: Arc<Backend>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Opens the backend, binds the listener and starts the background maintenance. The
/// returned server must be awaited (or spawned) to serve.
pub async fn start(settings: &Settings, log: Logger) -> anyhow::Result<RunningServer> {
    let _ = ERROR_LOGGER.set(log.clone());
    let backend = Arc::new(Backend::open(settings, &log).await?);
    let now = SystemClock.now();
    let report = backend.store.maintain(now).await?;
    info!(log, "partition maintenance done"; "created" => report.partitions_created, "dropped" => report.partitions_dropped);

    let (cert_pem, key_pem) =
        backend
            .ca
            .server_identity(&settings.data_dir, &settings.server_names, now)?;
    let acceptor = crate::tls::acceptor(backend.ca.certificate(), &cert_pem, &key_pem)?;
    ensure_first_admin(&backend, settings, &log).await?;
    let state = web::Data::new(AppState::new(
        &backend,
        settings,
        log.new(o!("component" => "http")),
    ));
    let cors_origins = settings.cors_allowed_origins.clone();
    let state_for_pruning = state.clone();
    let workers = if settings.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        settings.workers
    };
    let http = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(crate::routes::json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(crate::routes::query_error))
            .app_data(web::PathConfig::default().error_handler(crate::routes::path_error))
            .app_data(web::PayloadConfig::default().limit(crate::json::MAX_JSON_BYTES))
            .wrap(cors(&cors_origins))
            .wrap(actix_web::middleware::from_fn(crate::hygiene::middleware))
            .wrap(actix_web::middleware::from_fn(crate::routes::access_log))
            .configure(crate::routes::configure)
            .default_service(web::to(crate::routes::not_found))
    })
    .workers(workers)
    // Responses go out as several TLS records; with Nagle's algorithm on, the last one
    // waits for the client's delayed ACK (~40 ms per push, measured with the loadgen).
    .tcp_nodelay(true)
    .on_connect(crate::tls::on_connect)
    .client_request_timeout(Duration::from_secs(30))
    .shutdown_timeout(10)
    .bind_openssl(settings.listen, acceptor)
    .with_context(|| format!("binding {}", settings.listen))?;
    let addr = *http.addrs().first().context("no listening address")?;
    let server = http.run();
    spawn_rate_limit_pruning(state_for_pruning);
    spawn_maintenance(
        backend.clone(),
        Duration::from_secs(settings.maintenance_interval_seconds.max(60)),
        log.clone(),
    );
    info!(log, "listening"; "url" => format!("https://{addr}"), "ca_file" => %settings.data_dir.join("ca.pem").display());
    Ok(RunningServer {
        addr,
        server,
        backend,
    })
}

/// CORS: off unless origins are configured; then only those, with the methods and headers
/// the API uses.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut c = actix_cors::Cors::default();
    for o in origins {
        c = c.allowed_origin(o);
    }
    c.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type", "x-api-key", "x-request-id"])
        .expose_headers([
            "x-request-id",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "retry-after",
        ])
        .max_age(600)
}

/// On a server without users, creates `admin` and prints its password once (to the
/// terminal, never to the log) unless it was set with `PGANALYTICS_ADMIN_PASSWORD`.
async fn ensure_first_admin(
    backend: &Backend,
    settings: &Settings,
    log: &Logger,
) -> anyhow::Result<()> {
    let Some((user, generated)) = backend
        .user_admin()
        .ensure_first_admin(settings.admin_password.clone())
        .await
        .context("creating the first administrator")?
    else {
        return Ok(());
    };
    info!(log, "first administrator created"; "username" => %user.username, "generated_password" => generated.is_some());
    if let Some(p) = generated {
        eprintln!(
            "\n  The first administrator was created. Log in as `admin` with this password; it is\n  \
             shown this once (change it with PUT /api/v1/auth/password, or reset it with\n  \
             `pganalytics-server user reset admin`):\n\n      {}\n",
            p.expose_secret()
        );
    }
    Ok(())
}

fn spawn_rate_limit_pruning(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.rate_limits.prune();
        }
    });
}

fn spawn_maintenance(backend: Arc<Backend>, every: Duration, log: Logger) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match backend.store.maintain(SystemClock.now()).await {
                Ok(r) => {
                    info!(log, "partition maintenance done"; "created" => r.partitions_created, "dropped" => r.partitions_dropped)
                }
                Err(e) => warn!(log, "partition maintenance failed; will retry"; "error" => %e),
            }
        }
    });
}
