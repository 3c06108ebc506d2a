use actix_web::{HttpResponse, web};

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `DELETE /api/v1/collectors/{id}` — revokes the collector: its certificate and tokens
/// are refused from the next request on (every collector request reads its status).
pub async fn delete(
    who: Allowed<perm::ManageCollectors>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let collector = state.collectors.revoke(&who.ctx, parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(collector))
}
