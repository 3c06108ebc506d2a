//! Retention per metric family and tier.

use actix_web::{HttpResponse, web};
use pganalytics_domain::rollup::Retention;
use pganalytics_ports::usecases::FamilyRetention;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct RetentionList {
    /// Every family, in catalog order.
    families: Vec<FamilyRetention>,
}

/// Retention of every family
///
/// How many days raw rows, hourly and daily rollups are kept, and where each choice comes
/// from: `default`, the `settings` file, or the `api`.
#[utoipa::path(get, path = "/api/v1/retention", tag = "storage", operation_id = "list_retention",
    responses((status = 200, description = "Every family's retention", body = RetentionList)))]
pub async fn list(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RetentionList {
        families: state.uc.retention.list().await?,
    }))
}

/// Set a family's retention
///
/// Stored in the database (it wins over the settings file); audited. Partitions past the
/// new retention are dropped by the next maintenance pass.
#[utoipa::path(put, path = "/api/v1/retention/{family}", tag = "storage",
    operation_id = "set_retention",
    params(("family" = String, Path, description = "A metric family, e.g. `pg_statement`")),
    request_body = Retention,
    responses((status = 200, description = "The family's retention now", body = FamilyRetention),
        (status = 400, description = "A number of days out of range, named in `error.field`"),
        (status = 404, description = "No such family")))]
pub async fn put(
    who: Caller,
    state: web::Data<AppState>,
    family: web::Path<String>,
    body: JsonBody<Retention>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .uc
        .retention
        .set(&who.ctx, &family, Some(body.0))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Forget a family's stored retention
///
/// Back to the settings file, or the defaults; audited.
#[utoipa::path(delete, path = "/api/v1/retention/{family}", tag = "storage",
    operation_id = "reset_retention",
    params(("family" = String, Path, description = "A metric family")),
    responses((status = 200, description = "The family's retention now", body = FamilyRetention),
        (status = 404, description = "No such family")))]
pub async fn delete(
    who: Caller,
    state: web::Data<AppState>,
    family: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let r = state.uc.retention.set(&who.ctx, &family, None).await?;
    Ok(HttpResponse::Ok().json(r))
}
