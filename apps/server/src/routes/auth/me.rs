use actix_web::{HttpResponse, web};
use pganalytics_domain::access::{Permission, PrincipalKind};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, perm};
use crate::routes::users::user_json;

/// `GET /api/v1/auth/me` — who the caller is, with their role and permissions.
pub async fn get(
    who: Allowed<perm::Read>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = &who.principal;
    let permissions: Vec<Permission> = Permission::ALL
        .into_iter()
        .filter(|x| p.allows(*x))
        .collect();
    let body = match &p.kind {
        PrincipalKind::User { id, session, .. } => {
            let user = state.users.get(*id).await?;
            json!({ "kind": "user", "user": user_json(&user), "session_id": session,
                    "role": p.role, "permissions": permissions })
        }
        PrincipalKind::ApiToken { id, prefix, owner } => json!({
            "kind": "api_token", "api_token": { "id": id, "prefix": prefix, "owner": owner },
            "role": p.role, "permissions": permissions }),
    };
    Ok(HttpResponse::Ok().json(body))
}
