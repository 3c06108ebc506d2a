use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/collectors/{id}`
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state.collectors.get(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(collector))
}
