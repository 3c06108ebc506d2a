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
    /// This server's last maintenance pass (rollups, partitions, retention); absent before
    /// the first and on servers where another one leads maintenance.
    #[serde(skip_serializing_if = "Option::is_none")]
    maintenance: Option<MaintenanceStatus>,
}

#[derive(Serialize, ToSchema)]
pub struct MaintenanceStatus {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    last_run: time::OffsetDateTime,
    partitions_created: u32,
    partitions_dropped: u32,
    partitions_compressed: u32,
    rows_rolled_up: u64,
    hours_rolled: u64,
    days_rolled: u64,
    buckets_recomputed: u64,
    /// How far the oldest family's hourly rollups are behind now, in seconds.
    rollup_lag_seconds: i64,
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
    let maintenance = || {
        state
            .metrics
            .last_maintenance()
            .map(|(at, r)| MaintenanceStatus {
                last_run: at,
                partitions_created: r.partitions_created,
                partitions_dropped: r.partitions_dropped,
                partitions_compressed: r.partitions_compressed,
                rows_rolled_up: r.rollup.rows_rolled_up,
                hours_rolled: r.rollup.hours_rolled,
                days_rolled: r.rollup.days_rolled,
                buckets_recomputed: r.rollup.buckets_recomputed,
                rollup_lag_seconds: r.rollup.lag_seconds,
            })
    };
    match state.uc.health.check().await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ok",
            database: "ok",
            version,
            maintenance: maintenance(),
        }),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()))
            .json(Health {
                status: "degraded",
                database: "unavailable",
                version,
                maintenance: maintenance(),
            }),
    }
}
