pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;

use actix_web::HttpResponse;
use pganalytics_ports::usecases::Tokens;
use serde_json::json;

use crate::routes::rfc3339;
use crate::routes::users::user_json;

/// The answer to a login or a refresh. Never cached.
pub fn tokens_response(t: &Tokens) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "token_type": "Bearer",
            "access_token": t.access_token,
            "expires_at": rfc3339(t.access_expires_at),
            "refresh_token": t.refresh_token.expose(),
            "refresh_expires_at": rfc3339(t.refresh_expires_at),
            "user": user_json(&t.user),
        }))
}
