use actix_web::{HttpResponse, web};

use super::{UserView, parse_id};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// Get a user
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn get(
    _who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
