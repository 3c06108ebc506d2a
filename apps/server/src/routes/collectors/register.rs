use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use pganalytics_ports::usecases::RegisterRequest;
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{bearer, origin};

#[derive(Debug, Deserialize)]
pub struct Body {
    name: String,
    hostname: String,
    /// PKCS#10 request in PEM, signed by the collector's own key.
    csr: Option<String>,
}

/// `POST /api/v1/collectors/register` — `Authorization: Bearer <registration token>`.
///
/// Only the CSR flow is offered: generating the collector's private key on the server (the
/// original design) would put every collector's key in one place and on the wire.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "registration_token_required",
            "send the registration token as `Authorization: Bearer <token>`",
        )
    })?;
    let body = body.into_inner();
    let csr_pem = body.csr.ok_or_else(|| {
        ApiError::bad_request("csr_required", "send a PEM certificate signing request in `csr`; the private key must never leave the collector's host")
    })?;
    let reg = state
        .register
        .execute(
            RegisterRequest {
                registration_token: token.into(),
                name: body.name,
                hostname: body.hostname,
                csr_pem,
            },
            origin(&req),
        )
        .await?;
    let fmt = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    Ok(HttpResponse::Created().json(json!({
        "collector_id": reg.collector_id,
        "certificate": reg.certificate_pem,
        "ca_certificate": reg.ca_certificate_pem,
        "token": reg.token.token,
        "expires_at": fmt(reg.token.expires_at),
    })))
}
