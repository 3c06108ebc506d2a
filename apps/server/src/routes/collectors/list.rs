use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/collectors`
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let collectors = state.collectors.list().await?;
    Ok(HttpResponse::Ok().json(json!({ "collectors": collectors })))
}
