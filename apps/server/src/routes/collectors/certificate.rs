use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::peer_fingerprint;

#[derive(Debug, Deserialize)]
pub struct Body {
    /// PKCS#10 request in PEM for the collector's new key.
    csr: Option<String>,
}

/// `POST /api/v1/collectors/{id}/certificate` — renewal, for the holder of the collector's
/// current client certificate (mTLS): a new certificate for the key of the CSR; the old one
/// is refused from then on.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let csr = body.into_inner().csr.ok_or_else(|| {
        ApiError::bad_request(
            "csr_required",
            "send a PEM certificate signing request for the new key in `csr`",
        )
    })?;
    let renewal = state
        .renew
        .execute(
            id,
            peer_fingerprint(&req).as_ref(),
            &csr,
            crate::extract::origin(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "certificate": renewal.certificate.pem,
        "ca_certificate": renewal.ca_certificate_pem,
        "not_after": renewal.certificate.not_after.format(&Rfc3339).unwrap_or_default(),
    })))
}

/// `GET /api/v1/collectors/{id}/certificate` — the collector's current certificate. Public
/// (a certificate is no secret): an agent whose renewal answer was lost fetches the
/// certificate issued for its new key here.
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let cert = state.current_certificate.execute(id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "certificate": cert.pem,
        "not_after": cert.not_after.format(&Rfc3339).unwrap_or_default(),
    })))
}
