use actix_web::{HttpResponse, web};
use pganalytics_domain::fleet::FleetRow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Fleet {
    servers: Vec<FleetRow>,
}

/// The fleet at a glance
///
/// Every monitored server with its state (`up`, `unreachable`: the agent pushes but reads
/// nothing from PostgreSQL for 3 minutes, `agent_silent`: no push for 5 minutes or a revoked
/// collector, `maintenance`), role, release, open alerts and latest figures: connections,
/// transactions per second and cache hit ratio over the last two readings, replication lag
/// (a standby's own, a primary's largest standby's), and the mount with the least free
/// space. Figures are from the last 10 minutes; absent ones are `null`.
#[utoipa::path(get, path = "/api/v1/fleet", tag = "servers", operation_id = "fleet",
    responses((status = 200, description = "Every server with its state and latest figures", body = Fleet)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Fleet {
        servers: state.uc.fleet.list().await?,
    }))
}
