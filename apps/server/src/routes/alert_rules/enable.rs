use actix_web::{HttpResponse, web};

use super::view::RuleView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Enable an alert rule
#[utoipa::path(post, path = "/api/v1/alert-rules/{name}/enable", tag = "alerts", operation_id = "enable_alert_rule",
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule", body = RuleView)))]
pub async fn enable(
    who: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.uc.rules.set_enabled(&who.ctx, &name, true).await?;
    Ok(HttpResponse::Ok().json(RuleView::from(rule)))
}

/// Disable an alert rule
///
/// It is no longer evaluated, and its alerts are dropped without a notification (their
/// history stays).
#[utoipa::path(post, path = "/api/v1/alert-rules/{name}/disable", tag = "alerts", operation_id = "disable_alert_rule",
    params(("name" = String, Path, description = "The rule's name")),
    responses((status = 200, description = "The rule", body = RuleView)))]
pub async fn disable(
    who: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.uc.rules.set_enabled(&who.ctx, &name, false).await?;
    Ok(HttpResponse::Ok().json(RuleView::from(rule)))
}
