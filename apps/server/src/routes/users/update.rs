use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use pganalytics_domain::users::UserUpdate;
use serde::Deserialize;

use super::{parse_id, user_json};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::json::JsonBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    role: Option<Role>,
    /// `false` disables the account: its sessions and API tokens end at once.
    active: Option<bool>,
}

/// `PATCH /api/v1/users/{id}` (admin) — role and/or active. The last active admin cannot
/// be demoted or disabled (409).
pub async fn patch(
    who: Allowed<perm::ManageUsers>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let update = UserUpdate {
        role: body.0.role,
        disabled: body.0.active.map(|a| !a),
    };
    let user = state
        .users
        .update(&who.ctx, parse_id(&id)?, &update)
        .await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}
