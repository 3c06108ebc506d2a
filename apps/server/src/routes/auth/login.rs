use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::tokens::{SessionTokens, tokens_response};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::request::origin;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Login)]
pub struct Body {
    #[schema(example = "admin")]
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Log in
///
/// A 15-minute access token and a refresh token. Failures are throttled per account and per
/// address (429 with `Retry-After`); the answer and its timing are the same whether or not
/// the user exists.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", operation_id = "login",
    request_body = Body,
    responses(
        (status = 200, description = "Logged in", body = SessionTokens<'_>),
        (status = 401, description = "Wrong user name or password, or a disabled user", body = ErrorBody<'_>),
    ))]
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    crate::request::printable("username", &body.username)?;
    let tokens = state
        .uc
        .login
        .execute(&body.username, body.password, origin(&req))
        .await?;
    Ok(tokens_response(&tokens))
}
