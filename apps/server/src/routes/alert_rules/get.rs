use actix_web::{HttpResponse, web};

use super::view::RuleView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Get an alert rule
#[utoipa::path(get, path = "/api/v1/alert-rules/{name}", tag = "alerts", operation_id = "get_alert_rule",
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule", body = RuleView)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RuleView::from(state.uc.rules.get(&name).await?)))
}
