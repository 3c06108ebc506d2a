use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::tokens_response;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::origin;
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    refresh_token: SecretString,
}

/// `POST /api/v1/auth/refresh` — trades a refresh token for a new access token and a new
/// refresh token. Each refresh token works once: presenting a used one revokes the session.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .refresh
        .execute(body.0.refresh_token.expose_secret(), origin(&req))
        .await?;
    Ok(tokens_response(&tokens))
}
