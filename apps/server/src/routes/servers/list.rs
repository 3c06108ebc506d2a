use actix_web::{HttpResponse, web};
use pganalytics_domain::collector::MonitoredServer;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ServerList {
    servers: Vec<MonitoredServer>,
}

/// List monitored servers
///
/// Every PostgreSQL instance the agents report on, with when it was first and last seen.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", operation_id = "list_servers",
    responses((status = 200, description = "The servers", body = ServerList)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ServerList {
        servers: state.uc.servers.list().await?,
    }))
}
