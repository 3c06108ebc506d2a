pub mod create;
pub mod list;
pub mod revoke;

use pganalytics_domain::credentials::ApiToken;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::routes::rfc3339;

/// A token as the API lists it: its prefix identifies it; the secret is never shown again.
pub fn token_json(t: &ApiToken, now: OffsetDateTime) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "role": t.role,
        "owner": t.owner,
        "created_at": rfc3339(t.created_at),
        "expires_at": t.expires_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
        "usable": t.check_usable(now).is_ok(),
    })
}
