use actix_web::{HttpResponse, web};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/servers/{id}`
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.servers.get(id.into_inner()).await?))
}
