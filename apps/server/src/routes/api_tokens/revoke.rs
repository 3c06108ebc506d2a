use actix_web::{HttpResponse, web};

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
    let id = crate::routes::path_uuid(&id, "API token")?;
    let token = state.api_tokens.revoke(&who.ctx, id).await?;
    Ok(HttpResponse::Ok().json(token_json(&token, state.clock.now())))
}
