use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::Severity;
use pganalytics_domain::alerts::state::{AlertState, Phase};
use pganalytics_ports::store::AlertFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Params {
    /// `pending`, `firing` or `resolved`.
    #[param(value_type = Option<Phase>)]
    state: Option<String>,
    /// `info`, `warning` or `critical`.
    #[param(value_type = Option<Severity>)]
    severity: Option<String>,
    server_id: Option<i64>,
    /// A rule's name.
    rule: Option<String>,
    #[param(minimum = 1, maximum = 1000, default = 200)]
    limit: Option<usize>,
}

/// List alerts
///
/// Pending, firing and recently resolved alerts, the most recent change first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", operation_id = "list_alerts",
    params(Params),
    responses((status = 200, description = "The alerts", body = Vec<AlertState>)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let bad = |m: &str| ApiError::bad_request("invalid_query", m.to_owned());
    let limit = p.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(bad("`limit` is 1 to 1000"));
    }
    let filter = AlertFilter {
        phase: p
            .state
            .as_deref()
            .map(|s| Phase::parse(s).ok_or_else(|| bad("`state` is pending, firing or resolved")))
            .transpose()?,
        severity: p
            .severity
            .as_deref()
            .map(|s| {
                Severity::parse(s).ok_or_else(|| bad("`severity` is info, warning or critical"))
            })
            .transpose()?,
        server_id: p.server_id,
        rule: p.rule,
        limit,
    };
    Ok(HttpResponse::Ok().json(state.uc.alerts.list(&filter).await?))
}
