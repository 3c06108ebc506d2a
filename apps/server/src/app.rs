//! Wiring: a backend's use cases → the HTTP server (TLS, middleware, the route table) and its
//! background tasks. No business rule lives here; whichever backend it is given (PostgreSQL,
//! memory) it runs the same way.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use pganalytics_ports::Backend;
use pganalytics_ports::usecases::{Limits, ServerUseCases};
use secrecy::ExposeSecret;
use slog::{Logger, info, o, warn};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::Settings;
use crate::state::AppState;

/// A server that is accepting connections.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub server: actix_web::dev::Server,
    /// The use cases it serves, for the commands run beside it (the demo's tokens).
    pub uc: Arc<ServerUseCases>,
    /// The CA its clients trust (PEM).
    pub ca_pem: String,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds the listener and starts the background tasks, on `backend`. The returned server
/// must be awaited (or spawned) to serve.
pub async fn start(
    backend: &Backend,
    settings: &Settings,
    log: Logger,
) -> anyhow::Result<RunningServer> {
    let limits = Limits {
        group_commit: settings.group_commit(),
        ..Limits::default()
    };
    let uc = Arc::new(
        ServerUseCases::new(backend, limits)
            .with_retention_settings(settings.retention_settings()?)
            .with_columnar_after(
                settings
                    .columnar_after_days
                    .map(|d| time::Duration::days(i64::from(d))),
            ),
    );
    // Each committer on a thread of its own: encoding a group's COPY is CPU work that
    // should not share the HTTP workers' threads. A committer's thread ends with it,
    // once the use cases are dropped and the pushes queued before are stored.
    for committer in uc.ingest.take_committers() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting an ingest committer's runtime")?;
        std::thread::Builder::new()
            .name("ingest-commit".into())
            .spawn(move || runtime.block_on(committer))
            .context("starting an ingest committer")?;
    }
    let first = uc.maintenance.run_if_leader().await?;
    if let Some(r) = &first {
        info!(log, "maintenance done"; "partitions_created" => r.partitions_created,
            "partitions_dropped" => r.partitions_dropped, "rows_rolled_up" => r.rollup.rows_rolled_up,
            "rollup_lag_seconds" => r.rollup.lag_seconds);
    }
    let ca_pem = backend.ca.ca_certificate_pem();
    let identity = backend
        .ca
        .server_identity(&settings.server_names, backend.clock.now())
        .context("issuing the server's TLS certificate")?;
    let acceptor = crate::tls::acceptor(
        &ca_pem,
        &identity.certificate_pem,
        identity.key_pem.expose_secret(),
    )?;
    ensure_first_admin(&uc, settings, &log).await?;
    let seeded = uc
        .rules
        .seed_builtins()
        .await
        .context("loading the built-in alert rules")?;
    if !seeded.is_empty() {
        info!(log, "built-in alert rules added"; "rules" => seeded.len());
    }
    let state = web::Data::new(AppState::new(
        uc.clone(),
        backend.ids.clone(),
        settings,
        crate::openapi::json(),
        ca_pem.clone(),
        log.new(o!("component" => "http")),
    ));
    if let Some(r) = &first {
        state
            .metrics
            .maintenance(Ok(Some(r)), uc.maintenance.clock.now());
    }
    let (app_state, cors_origins) = (state.clone(), settings.cors_allowed_origins.clone());
    let http = HttpServer::new(move || app(app_state.clone(), cors_origins.clone()))
        .workers(settings.worker_count())
        // Responses go out as several TLS records; with Nagle's algorithm on, the last one
        // waits for the client's delayed ACK (~40 ms per push, measured with the loadgen).
        .tcp_nodelay(true)
        .on_connect(crate::tls::on_connect)
        .client_request_timeout(Duration::from_secs(settings.header_timeout_seconds))
        .keep_alive(Duration::from_secs(settings.keep_alive_seconds))
        .shutdown_timeout(10)
        .bind_openssl(settings.listen, acceptor)
        .with_context(|| format!("binding {}", settings.listen))?;
    let addr = *http.addrs().first().context("no listening address")?;
    let server = http.run();
    spawn_background(state, settings, log.clone());
    info!(log, "listening"; "url" => format!("https://{addr}"));
    Ok(RunningServer {
        addr,
        server,
        uc,
        ca_pem,
    })
}

/// The application: shared state, body limits, the middleware (outermost last) and the
/// routes of the table.
fn app(
    state: web::Data<AppState>,
    cors_origins: Vec<String>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use actix_web::middleware::from_fn;
    App::new()
        .app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(crate::json::MAX_JSON_BYTES)
                .error_handler(crate::error::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(crate::error::query_error))
        .app_data(web::PathConfig::default().error_handler(crate::error::path_error))
        .app_data(web::PayloadConfig::default().limit(crate::json::MAX_JSON_BYTES))
        .wrap(cors(&cors_origins))
        .wrap(from_fn(crate::middleware::authorize::middleware))
        .wrap(from_fn(crate::middleware::hygiene::middleware))
        .wrap(from_fn(crate::middleware::access_log::middleware))
        .configure(crate::routes::table::configure)
        .configure(crate::console::configure)
        .default_service(web::to(crate::routes::table::unmatched))
}

/// The server's periodic work: forgetting idle rate-limit keys, partition maintenance,
/// alert evaluation (on the one server leading it) and notification delivery.
fn spawn_background(state: web::Data<AppState>, settings: &Settings, log: Logger) {
    let (evaluating, alert_log) = (state.clone(), log.new(o!("task" => "alerts")));
    every(
        Duration::from_secs(settings.alert_interval_seconds.max(1)),
        move || {
            let (state, log) = (evaluating.clone(), alert_log.clone());
            async move {
                let started = std::time::Instant::now();
                let result = state.uc.evaluate_alerts.run_if_leader().await;
                if let Ok(r) = &result {
                    state
                        .metrics
                        .alert_cycle(r.as_ref(), started.elapsed().as_secs_f64());
                }
                match result {
                    Ok(Some(r)) if r.failed_rules > 0 || r.transitions > 0 => {
                        info!(log, "alert rules evaluated"; "rules" => r.rules, "failed_rules" => r.failed_rules,
                            "transitions" => r.transitions, "deliveries_queued" => r.deliveries_queued)
                    }
                    Ok(_) => {}
                    Err(e) => warn!(log, "alert evaluation failed; will retry"; "error" => %e),
                }
            }
        },
    );
    let (sending, notify_log) = (state.clone(), log.new(o!("task" => "notifications")));
    every(
        Duration::from_secs(settings.notify_interval_seconds.max(1)),
        move || {
            let (state, log) = (sending.clone(), notify_log.clone());
            async move {
                let result = state.uc.notify.run_once().await;
                if let Ok(r) = &result {
                    state.metrics.notified(r);
                }
                match result {
                    Ok(r) if r.messages > 0 => {
                        info!(log, "notifications sent"; "messages" => r.messages, "delivered" => r.delivered,
                        "retried" => r.retried, "failed" => r.failed)
                    }
                    Ok(_) => {}
                    Err(e) => warn!(log, "notification delivery failed; will retry"; "error" => %e),
                }
            }
        },
    );
    // Check-ins gathered from pushes reach the database within the presence's staleness.
    let presence = state.clone();
    every(Duration::from_secs(2), move || {
        let s = presence.clone();
        async move {
            let _ = s.uc.ingest.presence.flush().await;
        }
    });
    let pruned = state.clone();
    every(Duration::from_secs(60), move || {
        let s = pruned.clone();
        async move { s.rate_limits.prune() }
    });
    let period = Duration::from_secs(settings.maintenance_interval_seconds.max(1));
    every(period, move || {
        let (state, log) = (state.clone(), log.clone());
        async move {
            let result = state.uc.maintenance.run_if_leader().await;
            let now = state.uc.maintenance.clock.now();
            match &result {
                Ok(r) => state.metrics.maintenance(Ok(r.as_ref()), now),
                Err(_) => state.metrics.maintenance(Err(()), now),
            }
            match result {
                Ok(Some(r))
                    if r.partitions_created + r.partitions_dropped > 0
                        || r.rollup.buckets_recomputed > 0
                        || r.alerts_pruned > 0 =>
                {
                    info!(log, "maintenance done"; "partitions_created" => r.partitions_created,
                        "partitions_dropped" => r.partitions_dropped, "alerts_pruned" => r.alerts_pruned,
                        "rows_rolled_up" => r.rollup.rows_rolled_up, "buckets_recomputed" => r.rollup.buckets_recomputed,
                        "rollup_lag_seconds" => r.rollup.lag_seconds)
                }
                Ok(_) => {}
                Err(e) => warn!(log, "maintenance failed; will retry"; "error" => %e),
            }
        }
    });
}

/// Runs `task` every `period` (the first time after one period), on the server's runtime.
fn every<F, T>(period: Duration, mut task: T)
where
    T: FnMut() -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            task().await;
        }
    });
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
    uc: &ServerUseCases,
    settings: &Settings,
    log: &Logger,
) -> anyhow::Result<()> {
    let Some((user, generated)) = uc
        .users
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
