use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Get a monitored server
#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers", operation_id = "get_server",
    params(("id" = i64, Path, description = "The server's id")),
    responses((status = 200, description = "The server", body = pganalytics_domain::collector::MonitoredServer)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.uc.servers.get(id.into_inner()).await?))
}
