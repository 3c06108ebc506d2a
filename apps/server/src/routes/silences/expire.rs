use actix_web::{HttpResponse, web};

use super::create::SilenceView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// End a silence now
#[utoipa::path(delete, path = "/api/v1/silences/{id}", tag = "alerts", operation_id = "expire_silence",
    params(("id" = uuid::Uuid, Path, description = "The silence's id")),
    responses((status = 200, description = "The silence, ended", body = SilenceView)))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::request::path_uuid(&id, "silence")?;
    let s = state.uc.alerts.expire_silence(&who.ctx, id).await?;
    Ok(HttpResponse::Ok().json(SilenceView::from(s)))
}
