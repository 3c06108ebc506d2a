pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod password;
pub mod update;

use pganalytics_domain::users::User;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::rfc3339;

/// A user as the API shows it: never the password hash.
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "active": u.is_active(),
        "created_at": rfc3339(u.created_at),
        "updated_at": rfc3339(u.updated_at),
        "disabled_at": u.disabled_at.map(rfc3339),
    })
}

/// A user id from the path; anything else is a 404.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::routes::path_uuid(raw, "user")
}
