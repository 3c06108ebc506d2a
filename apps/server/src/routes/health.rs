use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::error::RETRY_AFTER_SECONDS;

/// `GET /api/v1/health` — 200 when the database answers, 503 (with `Retry-After`) when not.
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    match state.health.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION") })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()))
            .json(json!({ "status": "degraded", "database": "unavailable", "version": env!("CARGO_PKG_VERSION") })),
    }
}
