//! `/api/v1/maintenance-windows`: a server's planned work; its alerts notify nobody meanwhile.

use actix_web::{HttpResponse, web};
use pganalytics_domain::alerts::silence::MaintenanceWindow;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewMaintenanceWindow)]
pub struct Body {
    server_id: i64,
    /// Default: now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    starts_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    ends_at: OffsetDateTime,
    #[serde(default)]
    #[schema(max_length = 2000)]
    comment: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MaintenanceWindow)]
pub struct WindowView {
    id: uuid::Uuid,
    server_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    ends_at: OffsetDateTime,
    created_by: String,
    comment: String,
}

impl From<MaintenanceWindow> for WindowView {
    fn from(w: MaintenanceWindow) -> Self {
        Self {
            id: w.id,
            server_id: w.server_id,
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            created_by: w.created_by,
            comment: w.comment,
        }
    }
}

/// List maintenance windows
///
/// Windows that have not ended, the earliest start first.
#[utoipa::path(get, path = "/api/v1/maintenance-windows", tag = "alerts", operation_id = "list_maintenance_windows",
    responses((status = 200, description = "The windows", body = Vec<WindowView>)))]
pub async fn list(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list: Vec<WindowView> = state
        .uc
        .alerts
        .list_maintenance()
        .await?
        .into_iter()
        .map(WindowView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Create a maintenance window
///
/// The server's alerts still change state, but nobody is notified until the window ends.
#[utoipa::path(post, path = "/api/v1/maintenance-windows", tag = "alerts", operation_id = "create_maintenance_window",
    request_body = Body,
    responses(
        (status = 201, description = "The window", body = WindowView),
        (status = 400, description = "A bad window", body = ErrorBody<'_>),
        (status = 404, description = "No such server", body = ErrorBody<'_>),
    ))]
pub async fn create(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let by = who.principal.author();
    let w = state
        .uc
        .alerts
        .create_maintenance(
            &who.ctx,
            b.server_id,
            b.starts_at,
            b.ends_at,
            &by,
            &b.comment,
        )
        .await?;
    Ok(HttpResponse::Created().json(WindowView::from(w)))
}

/// Delete a maintenance window
#[utoipa::path(delete, path = "/api/v1/maintenance-windows/{id}", tag = "alerts", operation_id = "delete_maintenance_window",
    params(("id" = uuid::Uuid, Path, description = "The window's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::request::path_uuid(&id, "maintenance window")?;
    state.uc.alerts.delete_maintenance(&who.ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
