use actix_web::{HttpResponse, web};
use serde_json::json;

use super::token_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};

/// `GET /api/v1/api-tokens` (admin) — every token by prefix, newest first.
pub async fn get(
    _who: Allowed<perm::ManageApiTokens>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tokens: Vec<_> = state
        .api_tokens
        .list()
        .await?
        .iter()
        .map(|t| token_json(t, now))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "api_tokens": tokens })))
}
