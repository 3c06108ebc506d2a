use actix_web::{HttpResponse, web};

use super::{parse_id, user_json};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/users/{id}` (admin)
pub async fn get(
    _who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}
