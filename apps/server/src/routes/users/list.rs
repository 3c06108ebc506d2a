use actix_web::{HttpResponse, web};
use serde_json::json;

use super::user_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/users` (admin)
pub async fn get(
    _who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let users: Vec<_> = state.users.list().await?.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}
