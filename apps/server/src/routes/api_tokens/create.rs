use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::view::TokenView;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewApiToken)]
pub struct Body {
    #[schema(example = "grafana")]
    name: String,
    role: Role,
    /// Days until it expires, 1 to 3,650; left out: until revoked.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
    /// The user it is for (a personal token, revoked with the user); left out: a service token.
    owner: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenCreated<'a> {
    #[serde(flatten)]
    api_token: TokenView,
    /// The secret, shown this once (stored only as a hash): send it as
    /// `Authorization: Bearer …`, `Authorization: ApiKey …` or `X-API-Key: …`.
    token: &'a str,
}

/// Create an API token
///
/// The secret is in the answer, this once.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "api tokens", operation_id = "create_api_token",
    request_body = Body,
    responses((status = 201, description = "Created", body = ApiTokenCreated<'_>),
        (status = 404, description = "No user has the id given as `owner`", body = crate::error::ErrorBody<'_>)))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    if let Some(owner) = body.owner {
        state.uc.users.get(owner).await?;
    }
    let ttl = body
        .expires_in_days
        .map(|d| time::Duration::days(i64::from(d)));
    let created = state
        .uc
        .api_tokens
        .execute(&who.ctx, &body.name, body.role, ttl, body.owner)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(ApiTokenCreated {
            api_token: TokenView::new(&created.token, state.uc.api_tokens.usable(&created.token)),
            token: created.secret.expose(),
        }))
}
