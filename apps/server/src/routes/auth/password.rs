use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordChange)]
pub struct Body {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// 12 characters at least, 71 bytes at most, not containing the user name.
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// Change your own password
///
/// Any role, with a session; the caller's other sessions end.
#[utoipa::path(put, path = "/api/v1/auth/password", tag = "auth", operation_id = "change_password",
    request_body = Body,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "The new password breaks a rule, or the caller is an API token", body = ErrorBody<'_>),
    ))]
pub async fn put(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    state
        .uc
        .users
        .change_own_password(
            &who.ctx,
            &who.principal,
            body.current_password,
            body.new_password,
        )
        .await?;
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
