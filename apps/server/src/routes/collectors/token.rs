use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::peer_fingerprint;

/// `POST /api/v1/collectors/{id}/token` — a fresh collector token, for the holder of the
/// collector's client certificate (mTLS only: this is how an expired token is replaced).
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let token = state
        .refresh_token
        .execute(id, peer_fingerprint(&req).as_ref())
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "token": token.token,
        "expires_at": token.expires_at.format(&Rfc3339).unwrap_or_default(),
    })))
}
