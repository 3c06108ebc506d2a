use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/servers` — monitored instances, with when they were last seen.
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "servers": state.servers.list().await? })))
}
