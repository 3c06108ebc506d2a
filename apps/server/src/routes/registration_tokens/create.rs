use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewRegistrationToken)]
pub struct Body {
    /// How many agents may register with it.
    #[serde(default = "one")]
    #[schema(default = 1, minimum = 1)]
    uses: u32,
    /// Hours until it expires, at most 720.
    #[serde(default = "day")]
    #[schema(default = 24, minimum = 1, maximum = 720)]
    expires_in_hours: u32,
}

fn one() -> u32 {
    1
}
fn day() -> u32 {
    24
}

#[derive(Serialize, ToSchema)]
pub struct RegistrationTokenCreated<'a> {
    /// For `pganalytics-agent register --token …`; shown this once.
    token: &'a str,
    uses: u32,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Create a registration token
///
/// A token agents enrol with (`POST /api/v1/collectors/register`); shown this once.
#[utoipa::path(post, path = "/api/v1/registration-tokens", tag = "collectors",
    operation_id = "create_registration_token",
    request_body = Body,
    responses((status = 201, description = "Created", body = RegistrationTokenCreated<'_>)))]
pub async fn post(
    who: Caller,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let ttl = time::Duration::hours(i64::from(body.0.expires_in_hours));
    let t = state
        .uc
        .registration_tokens
        .execute(&who.ctx, body.0.uses, ttl)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(RegistrationTokenCreated {
            token: t.secret.expose(),
            uses: t.uses,
            expires_at: t.expires_at,
        }))
}
