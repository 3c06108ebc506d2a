use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::view::UserView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

/// List users
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, description = "Every user, by name", body = UserList)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let users = state
        .uc
        .users
        .list()
        .await?
        .iter()
        .map(UserView::from)
        .collect();
    Ok(HttpResponse::Ok().json(UserList { users }))
}
