use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// Revoke a collector
///
/// Its certificate and tokens are refused from the next request on (every collector request
/// reads its status).
#[utoipa::path(delete, path = "/api/v1/collectors/{id}", tag = "collectors",
    operation_id = "revoke_collector",
    params(("id" = uuid::Uuid, Path, description = "The collector's id")),
    responses((status = 200, description = "The collector, revoked", body = pganalytics_domain::collector::Collector)))]
pub async fn delete(
    who: Allowed<perm::ManageCollectors>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state.collectors.revoke(&who.ctx, parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(collector))
}
