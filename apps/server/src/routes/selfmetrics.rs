use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use time::Duration;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// The server's own metrics
///
/// Prometheus text format (0.0.4): requests and latency per route and status, ingest,
/// rejections, rate limiting, pool use, collectors. Needs a credential (any role; Prometheus
/// sends an API token with `authorization: credentials`) unless `metrics_require_auth = false`.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "self_metrics",
    responses((status = 200, description = "The metrics", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.metrics_require_auth {
        Allowed::<perm::Read>::extract(&req).await?;
    }
    for (pool, st, n) in state.store.pool_usage() {
        state.metrics.pool.with_label_values(&[pool, st]).set(n);
    }
    let collectors = state.collectors.list().await?;
    let now = state.clock.now();
    let count = |f: &dyn Fn(&pganalytics_domain::collector::Collector) -> bool| {
        i64::try_from(collectors.iter().filter(|c| f(c)).count()).unwrap_or(i64::MAX)
    };
    let g = &state.metrics.collectors;
    g.with_label_values(&["active"])
        .set(count(&|c| c.is_active()));
    g.with_label_values(&["revoked"])
        .set(count(&|c| !c.is_active()));
    g.with_label_values(&["reporting"]).set(count(&|c| {
        c.is_active() && c.last_seen.is_some_and(|t| now - t < Duration::minutes(5))
    }));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}
