use actix_web::{HttpRequest, HttpResponse, web};
use pganalytics_ports::usecases::IngestReport;
use serde::Serialize;
use std::time::Instant;
use utoipa::ToSchema;

use crate::body::{content_encoding, decompress, read_limited};
use crate::error::ApiError;
use crate::extract::AuthenticatedCollector;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct PushAnswer {
    #[serde(flatten)]
    report: IngestReport,
    processing_time_ms: f64,
}

/// Push a metric batch
///
/// From an authenticated collector (client certificate and collector token); stored exactly
/// once: a batch id seen before is acknowledged as `duplicate` and nothing is written. The
/// body may be compressed (`Content-Encoding: zstd` or `gzip`). The format is in
/// docs/api/metric-batch.md.
#[utoipa::path(post, path = "/api/v1/metrics/push", tag = "agents", operation_id = "push_metrics",
    params(("Content-Encoding" = Option<String>, Header, description = "`zstd`, `gzip` or none")),
    request_body(content = pganalytics_domain::batch::WireBatch, content_type = "application/json"),
    responses((status = 200, description = "Stored, or a duplicate of a stored batch", body = PushAnswer)))]
pub async fn post(
    req: HttpRequest,
    collector: AuthenticatedCollector,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let result = ingest(&req, &collector, &state, payload).await;
    state
        .metrics
        .ingest_outcome(result.as_ref().map_err(|e| e.code));
    Ok(HttpResponse::Ok().json(PushAnswer {
        report: result?,
        processing_time_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

async fn ingest(
    req: &HttpRequest,
    collector: &AuthenticatedCollector,
    state: &AppState,
    payload: web::Payload,
) -> Result<IngestReport, ApiError> {
    let encoding = content_encoding(req)?;
    let raw = read_limited(payload, state.limits.max_body_bytes).await?;
    let limit = state.limits.max_batch_bytes;
    // Inflating and parsing are CPU work bounded by the limits: off the HTTP workers, so a
    // large push never stalls other requests (health checks above all).
    let (uc, who) = (state.uc.clone(), collector.0.clone());
    let shutting_down = || {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down",
        )
    };
    let permit = state
        .push_permits
        .acquire()
        .await
        .map_err(|_| shutting_down())?;
    let validated = web::block(move || {
        let body = decompress(encoding, raw, limit)?;
        uc.ingest.validate(&who, &body).map_err(ApiError::from)
    })
    .await
    .map_err(|_| shutting_down())??;
    drop(permit);
    Ok(state.uc.ingest.store(&collector.0, validated).await?)
}
