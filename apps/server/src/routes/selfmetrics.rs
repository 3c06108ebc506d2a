use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

/// The server's own metrics
///
/// Prometheus text format (0.0.4): requests and latency per route and status, ingest,
/// rejections, rate limiting, pool use, collectors. Needs a credential (any role; Prometheus
/// sends an API token with `authorization: credentials`) unless `metrics_require_auth = false`.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "self_metrics",
    responses((status = 200, description = "The metrics", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn get(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.metrics.record_pools(&state.uc.health.pool_usage());
    state
        .metrics
        .record_collectors(state.uc.collectors.counts().await?);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}
