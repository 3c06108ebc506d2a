use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::CertificateHolder;
use crate::json::JsonBody;
use crate::request::{collector_id, origin};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Renewal)]
pub struct Body {
    /// PKCS#10 request in PEM for the collector's new key (`400 csr_required` without it,
    /// `400 invalid_csr` when it is not one).
    #[schema(required = true, value_type = String, pattern = "-----BEGIN CERTIFICATE REQUEST-----")]
    csr: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RenewedCertificate<'a> {
    /// PEM.
    certificate: &'a str,
    /// The server's CA (PEM), which the agent pins.
    ca_certificate: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
pub struct CurrentCertificate<'a> {
    /// PEM.
    certificate: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
}

/// Renew a collector's certificate
///
/// For the holder of the collector's current client certificate (mTLS): a new certificate
/// for the key of the CSR; the old one is refused from then on.
#[utoipa::path(post, path = "/api/v1/collectors/{id}/certificate", tag = "agents",
    operation_id = "renew_certificate",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    request_body = Body,
    responses((status = 200, description = "The new certificate", body = RenewedCertificate<'_>)))]
pub async fn post(
    req: HttpRequest,
    holder: CertificateHolder,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let id = collector_id(&id)?;
    let csr = body.0.csr.ok_or_else(|| {
        ApiError::bad_request(
            "csr_required",
            "send a PEM certificate signing request for the new key in `csr`",
        )
    })?;
    let renewal = state
        .uc
        .renew
        .execute(id, Some(&holder.0), &csr, origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(RenewedCertificate {
        certificate: &renewal.certificate.pem,
        ca_certificate: &renewal.ca_certificate_pem,
        not_after: renewal.certificate.not_after,
    }))
}

/// Get a collector's current certificate
///
/// Public (a certificate is no secret): an agent whose renewal answer was lost fetches the
/// certificate issued for its new key here.
#[utoipa::path(get, path = "/api/v1/collectors/{id}/certificate", tag = "agents",
    operation_id = "get_certificate",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "The certificate", body = CurrentCertificate<'_>)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = collector_id(&id)?;
    let cert = state.uc.current_certificate.execute(id).await?;
    Ok(HttpResponse::Ok().json(CurrentCertificate {
        certificate: &cert.pem,
        not_after: cert.not_after,
    }))
}
