use actix_web::{HttpResponse, web};
use pganalytics_domain::collector::Collector;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct CollectorList {
    collectors: Vec<Collector>,
}

/// List collectors
///
/// Every registered agent, with its certificate, status and when it last reported.
#[utoipa::path(get, path = "/api/v1/collectors", tag = "collectors", operation_id = "list_collectors",
    responses((status = 200, description = "The collectors", body = CollectorList)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let collectors = state.uc.collectors.list().await?;
    Ok(HttpResponse::Ok().json(CollectorList { collectors }))
}
