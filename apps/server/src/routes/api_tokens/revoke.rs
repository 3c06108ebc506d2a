use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::token_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `DELETE /api/v1/api-tokens/{id}` (admin) — revokes the token: the next request made
/// with it is refused.
pub async fn delete(
    who: Allowed<perm::ManageApiTokens>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "API token not found"))?;
    let token = state.api_tokens.revoke(&who.ctx, id).await?;
    Ok(HttpResponse::Ok().json(token_json(&token, state.clock.now())))
}
