use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::request::collector_id;
use crate::state::AppState;

/// Get a collector
#[utoipa::path(get, path = "/api/v1/collectors/{id}", tag = "collectors", operation_id = "get_collector",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "The collector", body = pganalytics_domain::collector::Collector)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state.uc.collectors.get(collector_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(collector))
}
