use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// Export every alert rule as a rule file
///
/// TOML, as `pganalytics-server rules check` and the import take it.
#[utoipa::path(get, path = "/api/v1/alert-rules/export", tag = "alerts", operation_id = "export_alert_rules",
    responses((status = 200, description = "A rule file", content_type = "application/toml", body = String)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let file = state.uc.rules.export().await?;
    Ok(HttpResponse::Ok()
        .content_type("application/toml; charset=utf-8")
        .body(file))
}
