use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::UserView;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

/// List users
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, description = "Every user, by name", body = UserList)))]
pub async fn get(
    _who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let users = state
        .users
        .list()
        .await?
        .iter()
        .map(UserView::from)
        .collect();
    Ok(HttpResponse::Ok().json(UserList { users }))
}
