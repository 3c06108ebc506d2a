use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::RuleSpec;

use super::view::RuleView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

/// Replace an alert rule
///
/// A changed built-in is marked `edited`, so upgrades never overwrite it. The body's
/// `name` must be the path's.
#[utoipa::path(put, path = "/api/v1/alert-rules/{name}", tag = "alerts", operation_id = "replace_alert_rule",
    params(("name" = String, Path, description = "The rule's name")),
    request_body(content = Object, description = "The rule"),
    responses(
        (status = 200, description = "The rule as changed", body = RuleView),
        (status = 400, description = "An invalid rule", body = ErrorBody<'_>),
    ))]
pub async fn put(
    who: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: JsonBody<RuleSpec>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.uc.rules.update(&who.ctx, &name, body.0).await?;
    Ok(HttpResponse::Ok().json(RuleView::from(rule)))
}
