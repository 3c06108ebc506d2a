use actix_web::{HttpRequest, HttpResponse, web};
use pganalytics_ports::usecases::IngestReport;
use serde_json::json;
use std::time::Instant;

use crate::app::AppState;
use crate::body::{content_encoding, decompress, read_limited};
use crate::error::ApiError;
use crate::extract::AuthenticatedCollector;

/// `POST /api/v1/metrics/push` — a metric batch from an authenticated collector
/// (client certificate + collector token), stored exactly once.
pub async fn post(
    req: HttpRequest,
    collector: AuthenticatedCollector,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let result = ingest(&req, &collector, &state, payload).await;
    state.metrics.ingest_outcome(&result);
    let mut value = serde_json::to_value(&result?).unwrap_or_else(|_| json!({}));
    value["processing_time_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
    Ok(HttpResponse::Ok().json(value))
}

async fn ingest(
    req: &HttpRequest,
    collector: &AuthenticatedCollector,
    state: &AppState,
    payload: web::Payload,
) -> Result<IngestReport, ApiError> {
    let encoding = content_encoding(req)?;
    let raw = read_limited(payload, state.max_body_bytes).await?;
    let limit = state.max_batch_bytes;
    let body = web::block(move || decompress(encoding, raw, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is shutting down",
            )
        })??;
    Ok(state.ingest.execute(&collector.0, &body).await?)
}
