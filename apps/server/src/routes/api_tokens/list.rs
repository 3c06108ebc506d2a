use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::view::TokenView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ApiTokenList {
    api_tokens: Vec<TokenView>,
}

/// List API tokens
///
/// Every token by prefix, newest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "api tokens", operation_id = "list_api_tokens",
    responses((status = 200, description = "The tokens", body = ApiTokenList)))]
pub async fn get(_who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens = &state.uc.api_tokens;
    let api_tokens = tokens
        .list()
        .await?
        .iter()
        .map(|t| TokenView::new(t, tokens.usable(t)))
        .collect();
    Ok(HttpResponse::Ok().json(ApiTokenList { api_tokens }))
}
