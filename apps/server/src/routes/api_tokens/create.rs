use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use serde::Deserialize;
use uuid::Uuid;

use super::token_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    name: String,
    role: Role,
    /// Days until it expires; left out: until revoked.
    expires_in_days: Option<u32>,
    /// The user it is for (a personal token, revoked with the user); left out: a service token.
    owner: Option<Uuid>,
}

/// `POST /api/v1/api-tokens` (admin) — 201 with the token, whose secret (`token`) is shown
/// this once and stored only as a hash.
pub async fn post(
    who: Allowed<perm::ManageApiTokens>,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    if let Some(owner) = body.owner {
        state.users.get(owner).await?;
    }
    let ttl = body
        .expires_in_days
        .map(|d| time::Duration::days(i64::from(d)));
    let created = state
        .api_tokens
        .execute(&who.ctx, &body.name, body.role, ttl, body.owner)
        .await?;
    let mut answer = token_json(&created.token, state.clock.now());
    answer["token"] = created.secret.expose().into();
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}
