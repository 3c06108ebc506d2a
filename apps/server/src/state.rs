//! What every request handler and middleware shares: the use cases, the self-metrics, the
//! rate limits and the HTTP limits. Built once by `app`; imports nothing that imports it.

use pganalytics_ports::env::IdSource;
use pganalytics_ports::usecases::ServerUseCases;
use slog::Logger;
use std::sync::Arc;
use std::time::Duration;

use crate::body::BodyTimeouts;
use crate::middleware::ratelimit::RateLimits;
use crate::selfmetrics::Metrics;
use crate::settings::Settings;

/// Bounds on what a request may send.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest compressed body on the push endpoint.
    pub max_body_bytes: usize,
    /// Largest decompressed batch.
    pub max_batch_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON body.
    pub max_json_depth: usize,
    /// How slowly a body may arrive.
    pub body: BodyTimeouts,
}

pub struct AppState {
    pub uc: Arc<ServerUseCases>,
    /// The process's id source (request ids).
    pub ids: Arc<dyn IdSource>,
    pub metrics: Metrics,
    pub rate_limits: RateLimits,
    pub limits: HttpLimits,
    /// Pushes being inflated and parsed at once: one per core, so the memory pushes take
    /// is bounded by the core count times one push's worst case (docs/operations.md).
    pub push_permits: tokio::sync::Semaphore,
    /// `GET /metrics` without a credential (`metrics_require_auth = false`).
    pub public_metrics: bool,
    /// The OpenAPI document served at `/api/v1/openapi.json`.
    pub openapi_json: &'static str,
    /// The CA agents trust (PEM; public), for the console's registration instructions.
    pub ca_pem: String,
    pub log: Logger,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState")
    }
}

impl AppState {
    pub fn new(
        uc: Arc<ServerUseCases>,
        ids: Arc<dyn IdSource>,
        settings: &Settings,
        openapi_json: &'static str,
        ca_pem: String,
        log: Logger,
    ) -> Self {
        Self {
            uc,
            ids,
            metrics: Metrics::default(),
            rate_limits: RateLimits::new(settings),
            limits: HttpLimits {
                max_body_bytes: settings.max_body_bytes,
                max_batch_bytes: settings.max_batch_bytes,
                max_json_depth: settings.max_json_depth,
                body: BodyTimeouts {
                    stall: Duration::from_secs(settings.body_timeout_seconds),
                    min_bytes_per_second: settings.body_min_bytes_per_second,
                },
            },
            push_permits: tokio::sync::Semaphore::new(settings.worker_count()),
            public_metrics: !settings.metrics_require_auth,
            openapi_json,
            ca_pem,
            log,
        }
    }
}
