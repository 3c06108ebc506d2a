use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::state::AlertState;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Acknowledgement)]
pub struct Body {
    /// Why, what is being done.
    #[serde(default)]
    #[schema(max_length = 2000)]
    comment: String,
}

/// Acknowledge a firing alert
///
/// Repeats stop until it resolves; channels that track acknowledgements (PagerDuty,
/// webhooks, Slack) are told.
#[utoipa::path(post, path = "/api/v1/alerts/{fingerprint}/ack", tag = "alerts", operation_id = "acknowledge_alert",
    params(("fingerprint" = String, Path, description = "The alert's fingerprint")),
    request_body = Body,
    responses(
        (status = 200, description = "The alert, acknowledged", body = AlertState),
        (status = 409, description = "Not firing, or acknowledged already", body = ErrorBody<'_>),
    ))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    fingerprint: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let by = who.principal.author();
    let alert = state
        .uc
        .alerts
        .acknowledge(&who.ctx, &fingerprint, &by, &body.0.comment)
        .await?;
    Ok(HttpResponse::Ok().json(alert))
}
