//! One log line per request: request id, method, route, status, latency and principal —
//! never headers, bodies or query strings (they may hold secrets) — and the cause of an
//! unexpected error, logged once, here, with the request's id. Also the request figures of
//! the self-metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use slog::{error, info};
use std::time::Instant;

use crate::error::InternalCause;
use crate::request::{PrincipalLabel, RequestId};
use crate::state::AppState;

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let Some(state) = state else {
        return Ok(res);
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let ext = res.request().extensions();
    let principal = ext
        .get::<PrincipalLabel>()
        .map_or_else(|| "anonymous".to_owned(), |p| p.0.clone());
    let request_id = ext
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    drop(ext);
    let status = res.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    state.metrics.request(&method, &route, status, seconds);
    if let Some(cause) = res.response().extensions().get::<InternalCause>() {
        error!(state.log, "unexpected error while handling a request";
            "request_id" => &request_id, "route" => &route, "cause" => &cause.0);
    }
    info!(state.log, "request handled"; "request_id" => request_id, "method" => method,
          "route" => route, "status" => status, "duration_ms" => seconds * 1000.0,
          "principal" => principal);
    Ok(res)
}
