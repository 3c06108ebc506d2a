use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// Get a collector
#[utoipa::path(get, path = "/api/v1/collectors/{id}", tag = "collectors", operation_id = "get_collector",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "The collector", body = pganalytics_domain::collector::Collector)))]
pub async fn get(
    _who: Allowed<perm::Read>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state.collectors.get(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(collector))
}
