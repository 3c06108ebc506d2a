use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::peer_fingerprint;

#[derive(Serialize, ToSchema)]
pub struct CollectorToken<'a> {
    /// A JWT the agent sends with each push, beside its client certificate.
    token: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Get a fresh collector token
///
/// For the holder of the collector's client certificate (mTLS only: this is how an expired
/// token is replaced).
#[utoipa::path(post, path = "/api/v1/collectors/{id}/token", tag = "agents",
    operation_id = "new_collector_token",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "A new token", body = CollectorToken<'_>)))]
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
    Ok(HttpResponse::Ok().json(CollectorToken {
        token: &token.token,
        expires_at: token.expires_at,
    }))
}
