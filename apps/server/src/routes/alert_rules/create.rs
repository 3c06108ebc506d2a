use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::RuleSpec;

use super::view::RuleView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

/// Create an alert rule
///
/// The body is one rule in its rule-file form as JSON (docs/alerts.md). It is validated
/// against the metric catalog; an SQL rule is run once, read-only, and refused if its query
/// fails, writes or times out. Nothing is stored unless it is valid.
#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "alerts", operation_id = "create_alert_rule",
    request_body(content = Object, description = "A rule (`name`, `severity`, `summary`, `condition`, …)"),
    responses(
        (status = 201, description = "The rule", body = RuleView),
        (status = 400, description = "An invalid rule, each problem named", body = ErrorBody<'_>),
        (status = 409, description = "A rule of this name exists", body = ErrorBody<'_>),
    ))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<RuleSpec>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.uc.rules.create(&who.ctx, body.0).await?;
    Ok(HttpResponse::Created().json(RuleView::from(rule)))
}
