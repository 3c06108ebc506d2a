//! Routes, one file per endpoint action, grouped by resource.

mod collectors;
mod config;
mod health;
mod metrics;
mod servers;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use slog::info;
use std::time::Instant;

use crate::app::AppState;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/health", web::get().to(health::get))
            .route(
                "/collectors/register",
                web::post().to(collectors::register::post),
            )
            .route("/collectors", web::get().to(collectors::list::get))
            .route("/collectors/{id}", web::get().to(collectors::get::get))
            .route(
                "/collectors/{id}",
                web::delete().to(collectors::revoke::delete),
            )
            .route(
                "/collectors/{id}/certificate",
                web::post().to(collectors::certificate::post),
            )
            .route(
                "/collectors/{id}/certificate",
                web::get().to(collectors::certificate::get),
            )
            .route(
                "/collectors/{id}/token",
                web::post().to(collectors::token::post),
            )
            .route("/metrics/push", web::post().to(metrics::push::post))
            .route("/config/{collector_id}", web::get().to(config::get::get))
            .route("/config/{collector_id}", web::put().to(config::put::put))
            .route("/servers", web::get().to(servers::list::get))
            .route("/servers/{id}", web::get().to(servers::get::get))
            .route(
                "/servers/{id}/metrics",
                web::get().to(servers::metrics::get),
            ),
    );
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

pub fn json_error(err: JsonPayloadError, _: &HttpRequest) -> Error {
    let e = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        ),
        other => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON for this endpoint: {other}"),
        ),
    };
    e.into()
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> Error {
    ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
}

pub fn path_error(err: PathError, _: &HttpRequest) -> Error {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("invalid path: {err}"),
    )
    .into()
}

/// One log line per request: method, route, status and latency. Never headers or bodies.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let log = req.app_data::<web::Data<AppState>>().map(|s| s.log.clone());
    let (method, path) = (
        req.method().to_string(),
        req.match_pattern().unwrap_or_else(|| req.path().to_owned()),
    );
    let res = next.call(req).await?;
    if let Some(log) = log {
        info!(log, "request handled"; "method" => method, "route" => path, "status" => res.status().as_u16(),
              "duration_ms" => start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(res)
}
