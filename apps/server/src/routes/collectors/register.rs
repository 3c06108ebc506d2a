use actix_web::{HttpRequest, HttpResponse, web};
use pganalytics_domain::collector::CollectorId;
use pganalytics_ports::usecases::RegisterRequest;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::EnrolmentToken;
use crate::json::JsonBody;
use crate::request::origin;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Enrolment)]
pub struct Body {
    name: String,
    hostname: String,
    /// PKCS#10 request in PEM, signed by the collector's own key (`400 csr_required`
    /// without it, `400 invalid_csr` when it is not one).
    #[schema(required = true, value_type = String, pattern = "-----BEGIN CERTIFICATE REQUEST-----")]
    csr: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Registration<'a> {
    collector_id: CollectorId,
    /// The collector's client certificate (PEM), for the key of the CSR.
    certificate: &'a str,
    /// The server's CA (PEM), which the agent pins.
    ca_certificate: &'a str,
    /// The collector token (JWT) sent with each push.
    token: &'a str,
    /// When the token expires.
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Register an agent
///
/// With `Authorization: Bearer <registration token>` and a PKCS#10 request signed by the
/// agent's own key. Only the CSR flow is offered: generating the collector's private key on
/// the server (the original design) would put every collector's key in one place and on the
/// wire.
#[utoipa::path(post, path = "/api/v1/collectors/register", tag = "agents",
    operation_id = "register_collector",
    request_body = Body,
    responses((status = 201, description = "Registered", body = Registration<'_>)))]
pub async fn post(
    req: HttpRequest,
    token: EnrolmentToken,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let csr_pem = body.csr.ok_or_else(|| {
        ApiError::bad_request("csr_required", "send a PEM certificate signing request in `csr`; the private key must never leave the collector's host")
    })?;
    let reg = state
        .uc
        .register
        .execute(
            RegisterRequest {
                registration_token: token.0,
                name: body.name,
                hostname: body.hostname,
                csr_pem,
            },
            origin(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(Registration {
        collector_id: reg.collector_id,
        certificate: &reg.certificate_pem,
        ca_certificate: &reg.ca_certificate_pem,
        token: &reg.token.token,
        expires_at: reg.token.expires_at,
    }))
}
