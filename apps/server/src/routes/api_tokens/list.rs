use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::TokenView;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

#[derive(Serialize, ToSchema)]
pub struct ApiTokenList {
    api_tokens: Vec<TokenView>,
}

/// List API tokens
///
/// Every token by prefix, newest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "api tokens", operation_id = "list_api_tokens",
    responses((status = 200, description = "The tokens", body = ApiTokenList)))]
pub async fn get(
    _who: Allowed<perm::ManageApiTokens>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let api_tokens = state
        .api_tokens
        .list()
        .await?
        .iter()
        .map(|t| TokenView::new(t, now))
        .collect();
    Ok(HttpResponse::Ok().json(ApiTokenList { api_tokens }))
}
