use actix_web::{HttpResponse, web};

use super::view::TokenView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Revoke an API token
///
/// The next request made with it is refused.
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "api tokens",
    operation_id = "revoke_api_token",
    params(("id" = uuid::Uuid, Path, description = "The token's id")),
    responses((status = 200, description = "The token, revoked", body = TokenView)))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::request::path_uuid(&id, "API token")?;
    let token = state.uc.api_tokens.revoke(&who.ctx, id).await?;
    Ok(HttpResponse::Ok().json(TokenView::new(&token, state.uc.api_tokens.usable(&token))))
}
