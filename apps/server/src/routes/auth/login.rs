use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use super::tokens_response;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::origin;
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    username: String,
    password: SecretString,
}

/// `POST /api/v1/auth/login` — a 15-minute access token and a refresh token. Failures are
/// throttled per account and per address (429 with `Retry-After`).
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let tokens = state
        .login
        .execute(&body.username, body.password, origin(&req))
        .await?;
    Ok(tokens_response(&tokens))
}
