use actix_web::{HttpResponse, web};
use pganalytics_domain::access::Role;
use pganalytics_domain::users::UserUpdate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::view::UserView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::json::JsonBody;
use crate::request::path_uuid;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserChange)]
pub struct Body {
    role: Option<Role>,
    /// `false` disables the account: its sessions and API tokens end at once.
    active: Option<bool>,
}

/// Change a user's role or status
///
/// The last active admin cannot be demoted or disabled (409).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "update_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = Body,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 409, description = "The last active admin", body = ErrorBody<'_>),
    ))]
pub async fn patch(
    who: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse, ApiError> {
    let update = UserUpdate {
        role: body.0.role,
        disabled: body.0.active.map(|a| !a),
    };
    let user = state
        .uc
        .users
        .update(&who.ctx, path_uuid(&id, "user")?, &update)
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
