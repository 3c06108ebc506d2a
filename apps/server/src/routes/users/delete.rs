use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::request::path_uuid;
use crate::state::AppState;

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
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .uc
        .users
        .delete(&who.ctx, path_uuid(&id, "user")?)
        .await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
