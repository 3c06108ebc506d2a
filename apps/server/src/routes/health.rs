use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::RETRY_AFTER_SECONDS;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    status: &'static str,
    /// `ok` or `unavailable`.
    database: &'static str,
    version: &'static str,
}

/// Health
///
/// 200 when the database answers, 503 (with `Retry-After`) when not.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", operation_id = "health",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer", body = Health,
            headers(("Retry-After" = u32, description = "Seconds"))),
    ))]
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let version = env!("CARGO_PKG_VERSION");
    match state.uc.health.check().await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ok",
            database: "ok",
            version,
        }),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()))
            .json(Health {
                status: "degraded",
                database: "unavailable",
                version,
            }),
    }
}
