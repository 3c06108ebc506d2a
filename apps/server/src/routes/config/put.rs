use actix_web::http::header;
use actix_web::{HttpResponse, web};
use pganalytics_domain::config::Intervals;
use serde::Deserialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::request::collector_id;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigChange)]
pub struct Body {
    /// Seconds per group; groups left out get their default.
    #[serde(default)]
    intervals: Intervals,
    /// Families the agent collects; empty or left out: every family.
    #[serde(default)]
    enabled_families: BTreeSet<String>,
}

/// Replace a collector's configuration
///
/// The version goes up by one; the agent learns of it from its next push's answer and pulls
/// it without a restart.
#[utoipa::path(put, path = "/api/v1/config/{collector_id}", tag = "collectors",
    operation_id = "set_config",
    params(("collector_id" = uuid::Uuid, Path, description = "The collector's id")),
    request_body = Body,
    responses((status = 200, description = "The new configuration", body = pganalytics_domain::config::CollectorConfig,
        headers(("ETag" = String, description = "The configuration's version")))))]
pub async fn put(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let id = collector_id(&id)?;
    let body = body.0;
    let config = state
        .uc
        .update_config
        .execute(&who.ctx, id, body.intervals, body.enabled_families)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, config.etag()))
        .json(&config))
}
