use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::create::SilenceView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Params {
    /// Also the silences that ended in the last week.
    #[serde(default)]
    all: bool,
}

/// List silences
///
/// Active and future silences (with `all=true`, also those that ended in the last week),
/// the latest start first.
#[utoipa::path(get, path = "/api/v1/silences", tag = "alerts", operation_id = "list_silences",
    params(Params),
    responses((status = 200, description = "The silences", body = Vec<SilenceView>)))]
pub async fn get(
    _who: Caller,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let list: Vec<SilenceView> = state
        .uc
        .alerts
        .list_silences(params.all)
        .await?
        .into_iter()
        .map(SilenceView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}
