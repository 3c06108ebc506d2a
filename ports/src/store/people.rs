//! Stores for people and what guards them: users, login sessions with their refresh tokens,
//! the audit log, and encrypted secrets.

use async_trait::async_trait;
use pganalytics_domain::audit::{AuditEntry, AuditQuery, StoredAuditEntry};
use pganalytics_domain::credentials::TokenHash;
use pganalytics_domain::users::{RefreshRecord, Session, User, UserUpdate, Username};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// The entity name of the `Conflict` a store returns when a change would leave no active
/// administrator.
pub const LAST_ADMIN: &str = "last administrator";

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// # Errors
    /// MUST return `Conflict` when a user with this id or name exists.
    async fn create_user(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Creates `user` only when there is no user at all (the first start), atomically also
    /// when two servers start at once; returns whether it did.
    async fn create_first_user(&self, user: &User, audit: &AuditEntry) -> Result<bool, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn get_user(&self, id: Uuid) -> Result<User, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown name.
    async fn find_user(&self, name: &Username) -> Result<User, StoreError>;

    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Changes the role and/or disables or enables the account. Disabling revokes the user's
    /// sessions and API tokens in the same transaction.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id, and `Conflict { entity: LAST_ADMIN }` (changing
    /// nothing) when no active admin would be left.
    async fn update_user(
        &self,
        id: Uuid,
        update: &UserUpdate,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<User, StoreError>;

    /// Replaces the password hash and revokes every session of the user but `keep` (the
    /// session a user changes their own password from).
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        keep: Option<Uuid>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes the user and their sessions, and revokes their API tokens.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id and `Conflict { entity: LAST_ADMIN }` for the
    /// last active admin.
    async fn delete_user(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was current: it is now used, and the next one is stored.
    Rotated { user: User, session: Session },
    /// The token had been used before: someone replayed it. The whole session is revoked.
    Reused { session: Session },
    /// Unknown, expired, or its session or user is no longer active.
    Invalid,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session with its first refresh token, with the audit entry (a login).
    ///
    /// # Errors
    /// MUST return `NotFound` when the session's user does not exist.
    async fn start_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Uses the refresh token with hash `presented` once, atomically: a current token of a
    /// live session whose user is active is marked used and `next` (a new hash) is stored for
    /// the same session (`Rotated`); a token used before revokes its session and writes
    /// `reuse_audit` (`Reused`), also when two uses race; anything else is `Invalid`.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
        reuse_audit: &AuditEntry,
    ) -> Result<RefreshOutcome, StoreError>;

    /// Revokes the session (a logout). Revoking twice is not an error.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn revoke_session(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The user of session `session` if that session is live at `now`, belongs to `user`,
    /// and the user is active: checked on every request made with an access token, so a
    /// logout, a revoked family or a disabled account takes effect at once.
    ///
    /// # Errors
    /// MUST return `NotFound` otherwise.
    async fn session_user(
        &self,
        session: Uuid,
        user: Uuid,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes an entry on its own: for refused attempts, which change nothing else.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Entries selected by `query` (see [`AuditQuery::matches`]), newest (highest id) first,
    /// at most `query.limit`.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Creates or replaces the sealed (encrypted) value of secret `name`.
    async fn put_secret(
        &self,
        name: &str,
        sealed: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown name.
    async fn get_secret(&self, name: &str) -> Result<String, StoreError>;

    /// Every secret's name and sealed value, by name.
    async fn list_secrets(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Replaces the sealed value of `name` with `new` if it is still `old` (a key rotation
    /// racing with an update never overwrites the update); returns whether it did.
    async fn reseal_secret(&self, name: &str, old: &str, new: &str) -> Result<bool, StoreError>;
}
