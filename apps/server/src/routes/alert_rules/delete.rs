use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Delete an alert rule
///
/// Its alerts go with it (their history and deliveries stay). A deleted built-in is not
/// brought back by an upgrade.
#[utoipa::path(delete, path = "/api/v1/alert-rules/{name}", tag = "alerts", operation_id = "delete_alert_rule",
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.uc.rules.delete(&who.ctx, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}
