use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use pganalytics_ports::usecases::NewPassword;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::view::UserView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser)]
pub struct Body {
    /// Letters, digits, `.`, `_`, `-`, `@`; starts with a letter or digit; at most 64.
    /// Compared and stored in lower case.
    #[schema(example = "alice", pattern = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    username: String,
    role: Role,
    /// 12 characters at least, 71 bytes at most, not containing the user name. Left out:
    /// one is generated and returned once, in `password`.
    #[schema(value_type = Option<String>, format = Password, min_length = 12, max_length = 71,
        pattern = "^[^\\x00-\\x1f\\x7f]*$")]
    password: Option<SecretString>,
}

#[derive(Serialize, ToSchema)]
pub struct UserCreated<'a> {
    #[serde(flatten)]
    user: UserView,
    /// The generated password (only when none was given), shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

/// Create a user
///
/// Answers with the user and, when no password was given, the generated one (shown this
/// once).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "create_user",
    request_body = Body,
    responses(
        (status = 201, description = "Created", body = UserCreated<'_>),
        (status = 409, description = "The name is taken", body = ErrorBody<'_>),
    ))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let password = body
        .password
        .map_or(NewPassword::Generate, NewPassword::Given);
    let (user, generated) = state
        .uc
        .users
        .create(&who.ctx, &body.username, body.role, password)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(UserCreated {
            user: UserView::from(&user),
            password: generated.as_ref().map(ExposeSecret::expose_secret),
        }))
}
