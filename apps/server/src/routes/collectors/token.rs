use actix_web::{HttpResponse, web};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::CertificateHolder;
use crate::request::collector_id;
use crate::state::AppState;

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
    holder: CertificateHolder,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = collector_id(&id)?;
    let token = state.uc.refresh_token.execute(id, Some(&holder.0)).await?;
    Ok(HttpResponse::Ok().json(CollectorToken {
        token: &token.token,
        expires_at: token.expires_at,
    }))
}
