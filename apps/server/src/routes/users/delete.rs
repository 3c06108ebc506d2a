use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Allowed, perm};

/// Delete a user
///
/// The user's sessions end and their personal API tokens are revoked. The last active admin
/// cannot be deleted (409).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", operation_id = "delete_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The last active admin", body = ErrorBody<'_>),
    ))]
pub async fn delete(
    who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.delete(&who.ctx, parse_id(&id)?).await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
