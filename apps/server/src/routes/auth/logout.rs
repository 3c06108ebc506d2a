use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

/// Log out
///
/// Ends the caller's session: its refresh token and every access token of it stop working at
/// once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    responses(
        (status = 204, description = "The session has ended"),
        (status = 400, description = "Called with an API token, which has no session", body = ErrorBody<'_>),
    ))]
pub async fn post(who: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.uc.logout.execute(&who.ctx, &who.principal).await? {
        return Err(ApiError::bad_request(
            "not_a_session",
            "an API token has no session to end; revoke it with DELETE /api/v1/api-tokens/{id}",
        ));
    }
    Ok(HttpResponse::new(StatusCode::NO_CONTENT))
}
