use pganalytics_domain::access::Role;
use pganalytics_domain::credentials::ApiToken;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A token as the API lists it: its prefix identifies it; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    #[schema(example = "pga_3kq9x")]
    pub prefix: String,
    pub role: Role,
    /// The user a personal token belongs to (revoked with them); none for a service token.
    pub owner: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Neither revoked nor expired.
    pub usable: bool,
}

impl TokenView {
    pub fn new(t: &ApiToken, usable: bool) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            role: t.role,
            owner: t.owner,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            usable,
        }
    }
}
