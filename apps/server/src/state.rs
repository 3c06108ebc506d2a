//! What every request handler and middleware shares: the use cases, the self-metrics, the
//! rate limits and the HTTP limits. Built once by `app`; imports nothing that imports it.

use pganalytics_ports::env::IdSource;
use pganalytics_ports::usecases::ServerUseCases;
use slog::Logger;
use std::sync::Arc;

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
}

pub struct AppState {
    pub uc: Arc<ServerUseCases>,
    /// The process's id source (request ids).
    pub ids: Arc<dyn IdSource>,
    pub metrics: Metrics,
    pub rate_limits: RateLimits,
    pub limits: HttpLimits,
    /// `GET /metrics` without a credential (`metrics_require_auth = false`).
    pub public_metrics: bool,
    /// The OpenAPI document served at `/api/v1/openapi.json`.
    pub openapi_json: &'static str,
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
            },
            public_metrics: !settings.metrics_require_auth,
            openapi_json,
            log,
        }
    }
}
