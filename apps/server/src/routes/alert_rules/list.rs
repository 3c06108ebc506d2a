use actix_web::{HttpResponse, web};

use super::view::RuleView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// List alert rules
///
/// Every rule, built-in and your own, by name, with the outcome of its last evaluation.
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alerts", operation_id = "list_alert_rules",
    responses((status = 200, description = "The rules", body = Vec<RuleView>)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rules: Vec<RuleView> = state
        .uc
        .rules
        .list()
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(rules))
}
