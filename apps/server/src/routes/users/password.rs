use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use pganalytics_ports::usecases::NewPassword;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use super::view::GeneratedPassword;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::request::path_uuid;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordReset)]
pub struct Body {
    /// 12 characters at least, 71 bytes at most, no control characters, not containing the
    /// user name. Left out: one is generated and returned once.
    #[schema(value_type = Option<String>, format = Password, min_length = 12, max_length = 71,
        pattern = "^[^\\x00-\\x1f\\x7f]*$")]
    password: Option<SecretString>,
}

/// Set a user's password
///
/// Every session of the user ends.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users",
    operation_id = "reset_user_password",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = Body,
    responses(
        (status = 200, description = "The generated password, shown this once", body = GeneratedPassword<'_>),
        (status = 204, description = "The given password is set"),
    ))]
pub async fn put(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let password = body
        .0
        .password
        .map_or(NewPassword::Generate, NewPassword::Given);
    match state
        .uc
        .users
        .reset_password(&who.ctx, path_uuid(&id, "user")?, password)
        .await?
    {
        Some(generated) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(GeneratedPassword {
                password: generated.expose_secret(),
            })),
        None => Ok(HttpResponse::new(StatusCode::NO_CONTENT)),
    }
}
