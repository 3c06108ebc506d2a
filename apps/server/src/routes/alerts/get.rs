use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::state::AlertState;
use pganalytics_ports::store::Transition;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

/// One notified change of an alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionView {
    id: uuid::Uuid,
    /// `firing`, `escalated`, `repeated`, `acknowledged` or `resolved`.
    kind: &'static str,
    severity: &'static str,
    value: f64,
    summary: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

impl From<&Transition> for TransitionView {
    fn from(t: &Transition) -> Self {
        Self {
            id: t.id,
            kind: t.kind.as_str(),
            severity: t.severity.as_str(),
            value: t.value,
            summary: t.summary.clone(),
            at: t.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    alert: AlertState,
    /// Newest first.
    history: Vec<TransitionView>,
}

/// Get an alert with its history
#[utoipa::path(get, path = "/api/v1/alerts/{fingerprint}", tag = "alerts", operation_id = "get_alert",
    params(("fingerprint" = String, Path, description = "The alert's fingerprint (its rule and labels)")),
    responses((status = 200, description = "The alert and its transitions", body = AlertDetail)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    fingerprint: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (alert, history) = state.uc.alerts.get(&fingerprint).await?;
    Ok(HttpResponse::Ok().json(AlertDetail {
        alert,
        history: history.iter().map(TransitionView::from).collect(),
    }))
}
