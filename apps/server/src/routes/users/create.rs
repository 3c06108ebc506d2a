use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use pganalytics_ports::usecases::NewPassword;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::user_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    username: String,
    role: Role,
    /// Left out: one is generated and returned once, in `password`.
    password: Option<SecretString>,
}

/// `POST /api/v1/users` (admin) — 201 with the user, and the generated password when none
/// was given (shown this once).
pub async fn post(
    who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let password = body
        .password
        .map_or(NewPassword::Generate, NewPassword::Given);
    let (user, generated) = state
        .users
        .create(&who.ctx, &body.username, body.role, password)
        .await?;
    let mut answer = user_json(&user);
    if let Some(p) = generated {
        answer["password"] = p.expose_secret().into();
    }
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}
