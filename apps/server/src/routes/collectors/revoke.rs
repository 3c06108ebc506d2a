use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::request::collector_id;
use crate::state::AppState;

/// Revoke a collector
///
/// Its certificate and tokens are refused from the next request on (every collector request
/// reads its status).
#[utoipa::path(delete, path = "/api/v1/collectors/{id}", tag = "collectors",
    operation_id = "revoke_collector",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "The collector, revoked", body = pganalytics_domain::collector::Collector)))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state
        .uc
        .collectors
        .revoke(&who.ctx, collector_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(collector))
}
