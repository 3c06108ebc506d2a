use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use pganalytics_ports::usecases::NewPassword;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::parse_id;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Left out: one is generated and returned once.
    password: Option<SecretString>,
}

/// `PUT /api/v1/users/{id}/password` (admin) — sets a user's password; every session of
/// theirs ends.
pub async fn put(
    who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let password = body
        .0
        .password
        .map_or(NewPassword::Generate, NewPassword::Given);
    match state
        .users
        .reset_password(&who.ctx, parse_id(&id)?, password)
        .await?
    {
        Some(generated) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "password": generated.expose_secret() }))),
        None => Ok(HttpResponse::new(StatusCode::NO_CONTENT)),
    }
}
