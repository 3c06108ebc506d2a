use actix_web::{HttpResponse, web};

use super::view::UserView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::request::path_uuid;
use crate::state::AppState;

/// Get a user
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.uc.users.get(path_uuid(&id, "user")?).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
