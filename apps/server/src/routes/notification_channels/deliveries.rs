use actix_web::{HttpResponse, web};
use pganalytics_ports::store::Delivery;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::request::path_uuid;
use crate::state::AppState;

/// One notification to one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    id: uuid::Uuid,
    /// `pending`, `delivered`, `failed` or `suppressed` (a silence or maintenance window).
    status: &'static str,
    attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    next_attempt_at: OffsetDateTime,
    last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// The transition notified: its id is the receivers' idempotency key.
    transition_id: uuid::Uuid,
    alert: String,
    rule: String,
    kind: &'static str,
    summary: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            transition_id: d.transition.id,
            alert: d.transition.fingerprint,
            rule: d.transition.rule,
            kind: d.transition.kind.as_str(),
            summary: d.transition.summary,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Params {
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
}

/// A channel's delivery log
///
/// Newest first.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}/deliveries", tag = "alerts", operation_id = "list_channel_deliveries",
    params(("id" = uuid::Uuid, Path, description = "The channel's id"), Params),
    responses((status = 200, description = "Its deliveries", body = Vec<DeliveryView>)))]
pub async fn list(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let id = path_uuid(&id, "notification channel")?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`limit` is 1 to 1000",
        ));
    }
    let list: Vec<DeliveryView> = state
        .uc
        .channels
        .deliveries(id, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Send a test notification
///
/// Queues a made-up info alert for the channel, sent at once; its outcome shows in the
/// delivery log.
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "alerts", operation_id = "test_notification_channel",
    params(("id" = uuid::Uuid, Path, description = "The channel's id")),
    responses((status = 202, description = "The queued delivery", body = DeliveryView)))]
pub async fn test(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_uuid(&id, "notification channel")?;
    let d = state.uc.channels.test(&who.ctx, id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(d)))
}
