use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;
use crate::routes::rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// How many agents may register with it (default 1).
    #[serde(default = "one")]
    uses: u32,
    /// Hours until it expires (default 24, at most 720).
    #[serde(default = "day")]
    expires_in_hours: u32,
}

fn one() -> u32 {
    1
}
fn day() -> u32 {
    24
}

/// `POST /api/v1/registration-tokens` (admin) — a token agents register with; shown once.
pub async fn post(
    who: Allowed<perm::ManageRegistrationTokens>,
    state: web::Data<AppState>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let ttl = time::Duration::hours(i64::from(body.0.expires_in_hours));
    let t = state
        .registration_tokens
        .execute(&who.ctx, body.0.uses, ttl)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "token": t.secret.expose(),
            "uses": t.uses,
            "expires_at": rfc3339(t.expires_at),
        })))
}
