use actix_web::{HttpResponse, web};
use pganalytics_domain::access::{Permission, PrincipalKind, Role};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::Caller as Who;
use crate::routes::users::view::UserView;
use crate::state::AppState;

/// Who is calling: a person with a session, or an API token.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Caller<'a> {
    User { user: UserView, session_id: Uuid },
    ApiToken { api_token: TokenIdentity<'a> },
}

#[derive(Serialize, ToSchema)]
pub struct TokenIdentity<'a> {
    id: Uuid,
    prefix: &'a str,
    /// The user a personal token belongs to; none for a service token.
    owner: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Me<'a> {
    #[serde(flatten)]
    caller: Caller<'a>,
    role: Role,
    /// What the role allows.
    permissions: Vec<Permission>,
}

/// Who am I
///
/// The caller, with their role and permissions.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", operation_id = "me",
    responses((status = 200, description = "The caller", body = Me<'_>)))]
pub async fn get(who: Who, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let p = &who.principal;
    let caller = match &p.kind {
        PrincipalKind::User { id, session, .. } => Caller::User {
            user: UserView::from(&state.uc.users.get(*id).await?),
            session_id: *session,
        },
        PrincipalKind::ApiToken { id, prefix, owner } => Caller::ApiToken {
            api_token: TokenIdentity {
                id: *id,
                prefix,
                owner: *owner,
            },
        },
    };
    Ok(HttpResponse::Ok().json(Me {
        caller,
        role: p.role,
        permissions: Permission::ALL
            .into_iter()
            .filter(|x| p.allows(*x))
            .collect(),
    }))
}
