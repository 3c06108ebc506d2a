use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    current_password: SecretString,
    new_password: SecretString,
}

/// `PUT /api/v1/auth/password` — the caller changes their own password (any role); their
/// other sessions end.
pub async fn put(
    who: Allowed<perm::Read>,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    state
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
