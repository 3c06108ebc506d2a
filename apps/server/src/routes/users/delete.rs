use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `DELETE /api/v1/users/{id}` (admin) — the user's sessions end and personal API tokens
/// are revoked. The last active admin cannot be deleted (409).
pub async fn delete(
    who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.delete(&who.ctx, parse_id(&id)?).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
