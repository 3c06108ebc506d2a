use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use super::tokens::{SessionTokens, tokens_response};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::request::origin;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Refresh)]
pub struct Body {
    #[schema(value_type = String, format = Password)]
    refresh_token: SecretString,
}

/// Refresh a session
///
/// Trades a refresh token for a new access token and a new refresh token. Each refresh token
/// works once: presenting a used one revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh",
    request_body = Body,
    responses(
        (status = 200, description = "New tokens", body = SessionTokens<'_>),
        (status = 401, description = "Unknown, expired or reused refresh token", body = ErrorBody<'_>),
    ))]
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .uc
        .refresh
        .execute(body.0.refresh_token.expose_secret(), origin(&req))
        .await?;
    Ok(tokens_response(&tokens))
}
