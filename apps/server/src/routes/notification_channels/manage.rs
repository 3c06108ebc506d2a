use actix_web::{HttpResponse, web};

use super::view::{Body, ChannelView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::request::path_uuid;
use crate::state::AppState;

/// List notification channels
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "alerts", operation_id = "list_notification_channels",
    responses((status = 200, description = "The channels, by name", body = Vec<ChannelView>)))]
pub async fn list(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list: Vec<ChannelView> = state
        .uc
        .channels
        .list()
        .await?
        .into_iter()
        .map(ChannelView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Get a notification channel
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "alerts", operation_id = "get_notification_channel",
    params(("id" = uuid::Uuid, Path, description = "The channel's id")),
    responses((status = 200, description = "The channel", body = ChannelView)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_uuid(&id, "notification channel")?;
    Ok(HttpResponse::Ok().json(ChannelView::from(state.uc.channels.get(id).await?)))
}

/// Create a notification channel
///
/// URLs must be http(s); a webhook needs a signing secret, Slack its webhook URL and
/// PagerDuty its routing key as `secret`; e-mail needs `smtp_host`, `from` and `to` and is
/// sent only over STARTTLS.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "alerts", operation_id = "create_notification_channel",
    request_body = Body,
    responses(
        (status = 201, description = "The channel", body = ChannelView),
        (status = 400, description = "An invalid channel", body = ErrorBody<'_>),
        (status = 409, description = "A channel of this name exists", body = ErrorBody<'_>),
    ))]
pub async fn create(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let c = state.uc.channels.create(&who.ctx, body.0.into()).await?;
    Ok(HttpResponse::Created().json(ChannelView::from(c)))
}

/// Replace a notification channel
///
/// Without `secret` the stored secret is kept.
#[utoipa::path(put, path = "/api/v1/notification-channels/{id}", tag = "alerts", operation_id = "replace_notification_channel",
    params(("id" = uuid::Uuid, Path, description = "The channel's id")),
    request_body = Body,
    responses(
        (status = 200, description = "The channel", body = ChannelView),
        (status = 400, description = "An invalid channel", body = ErrorBody<'_>),
        (status = 409, description = "Another channel has this name", body = ErrorBody<'_>),
    ))]
pub async fn replace(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let id = path_uuid(&id, "notification channel")?;
    let c = state
        .uc
        .channels
        .update(&who.ctx, id, body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(ChannelView::from(c)))
}

/// Delete a notification channel
///
/// Its undelivered notifications go with it; its delivery log stays.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "alerts", operation_id = "delete_notification_channel",
    params(("id" = uuid::Uuid, Path, description = "The channel's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_uuid(&id, "notification channel")?;
    state.uc.channels.delete(&who.ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
