//! Users, sessions and refresh tokens, the audit log and secrets on PostgreSQL. Every change
//! runs in one transaction with its audit row. Changes that could remove the last active
//! admin take `SHARE ROW EXCLUSIVE` on `users` first, so two of them cannot both pass the
//! check (user changes are rare; the lock never blocks logins, which only read).

use async_trait::async_trait;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::{
    Actor, ActorKind, AuditEntry, AuditQuery, Outcome, StoredAuditEntry,
};
use pganalytics_domain::credentials::TokenHash;
use pganalytics_domain::users::{RefreshRecord, Session, User, UserUpdate, Username};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    AuditStore, LAST_ADMIN, RefreshOutcome, SecretStore, SessionStore, UserStore,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PgStore, store_error};

/// An error inside a transaction: a refusal decided in Rust, or a driver error.
pub(super) enum Tx {
    Refused(StoreError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Tx {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

pub(super) fn tx_result<T>(r: Result<T, Tx>, entity: &'static str) -> Result<T, StoreError> {
    match r {
        Ok(v) => Ok(v),
        Err(Tx::Refused(e)) => Err(e),
        Err(Tx::Db(e)) => Err(store_error(e, entity)),
    }
}

/// Runs `$body` on a pooled connection in one transaction that also writes `$audit`: the
/// change and its audit row, both or neither. `$body` may use `?` (driver errors) and
/// `return Err(Tx::Refused(..))`; an early `Ok` return skips the audit row (nothing changed).
macro_rules! audited {
    ($store:expr, $entity:expr, $audit:expr, |$conn:ident| $body:block) => {{
        let mut pooled = $store.conn().await?;
        let r = pooled
            .transaction::<_, Tx, _>(async |$conn| {
                let value = $body;
                write_audit($conn, $audit).await?;
                Ok(value)
            })
            .await;
        tx_result(r, $entity)
    }};
}
pub(super) use audited;

/// Writes `e` on `conn` (inside the caller's transaction).
pub(super) async fn write_audit(
    conn: &mut AsyncPgConnection,
    e: &AuditEntry,
) -> Result<(), diesel::result::Error> {
    let details = serde_json::to_value(&e.details).unwrap_or_default();
    diesel::sql_query(
        "INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, actor_role, address, \
         request_id, action, target, outcome, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind::<Timestamptz, _>(e.at)
    .bind::<Text, _>(e.actor.kind.as_str())
    .bind::<Nullable<Text>, _>(e.actor.id.as_deref())
    .bind::<Nullable<Text>, _>(e.actor.name.as_deref())
    .bind::<Nullable<Text>, _>(e.actor.role.map(Role::as_str))
    .bind::<Nullable<Text>, _>(e.address.as_deref())
    .bind::<Nullable<Text>, _>(e.request_id.as_deref())
    .bind::<Text, _>(&e.action)
    .bind::<Nullable<Text>, _>(e.target.as_deref())
    .bind::<Text, _>(e.outcome.as_str())
    .bind::<Jsonb, _>(details)
    .execute(conn)
    .await
    .map(drop)
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    updated_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    disabled_at: Option<OffsetDateTime>,
}

const USER_COLUMNS: &str =
    "u.id, u.username, u.role, u.password_hash, u.created_at, u.updated_at, u.disabled_at";

impl UserRow {
    fn into_domain(self) -> Result<User, StoreError> {
        let corrupt = |what| StoreError::unknown(format!("user {} has an invalid {what}", self.id));
        Ok(User {
            id: self.id,
            username: Username::parse(&self.username).map_err(|_| corrupt("name"))?,
            role: Role::parse(&self.role).map_err(|_| corrupt("role"))?,
            password_hash: self.password_hash,
            created_at: self.created_at,
            updated_at: self.updated_at,
            disabled_at: self.disabled_at,
        })
    }
}

async fn user_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<UserRow>, diesel::result::Error> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn lock_users(conn: &mut AsyncPgConnection) -> Result<(), diesel::result::Error> {
    diesel::sql_query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await
        .map(drop)
}

async fn other_active_admins(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<i64, diesel::result::Error> {
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM users WHERE id <> $1 AND role = 'admin' AND disabled_at IS NULL",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?;
    Ok(c.n)
}

async fn revoke_sessions(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    keep: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
         AND id IS DISTINCT FROM $2",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<Nullable<SqlUuid>, _>(keep)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(drop)
}

async fn revoke_tokens_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "UPDATE api_tokens SET revoked_at = $2 WHERE owner_id = $1 AND revoked_at IS NULL",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(drop)
}

async fn insert_user(conn: &mut AsyncPgConnection, u: &User) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO users (id, username, role, password_hash, created_at, updated_at, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind::<SqlUuid, _>(u.id)
    .bind::<Text, _>(u.username.as_str())
    .bind::<Text, _>(u.role.as_str())
    .bind::<Text, _>(&u.password_hash)
    .bind::<Timestamptz, _>(u.created_at)
    .bind::<Timestamptz, _>(u.updated_at)
    .bind::<Nullable<Timestamptz>, _>(u.disabled_at)
    .execute(conn)
    .await
    .map(drop)
}

const LAST: Tx = Tx::Refused(StoreError::Conflict { entity: LAST_ADMIN });

fn missing(entity: &'static str) -> Tx {
    Tx::Refused(StoreError::NotFound { entity })
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError> {
        audited!(self, "user", audit, |conn| {
            insert_user(conn, user).await?;
        })
    }

    async fn create_first_user(&self, user: &User, audit: &AuditEntry) -> Result<bool, StoreError> {
        audited!(self, "user", audit, |conn| {
            lock_users(conn).await?;
            let c: Count = diesel::sql_query("SELECT count(*) AS n FROM users")
                .get_result(conn)
                .await?;
            if c.n > 0 {
                return Ok(false);
            }
            insert_user(conn, user).await?;
            true
        })
    }

    async fn get_user(&self, id: Uuid) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        user_by_id(&mut conn, id, false)
            .await
            .map_err(|e| store_error(e, "user"))?
            .ok_or(StoreError::NotFound { entity: "user" })?
            .into_domain()
    }

    async fn find_user(&self, name: &Username) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        let row: UserRow = diesel::sql_query(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"
        ))
        .bind::<Text, _>(name.as_str())
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "user"))?;
        row.into_domain()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<UserRow> = diesel::sql_query(format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username COLLATE \"C\""
        ))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "user"))?;
        rows.into_iter().map(UserRow::into_domain).collect()
    }

    async fn update_user(
        &self,
        id: Uuid,
        update: &UserUpdate,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        audited!(self, "user", audit, |conn| {
            lock_users(conn).await?;
            let current = user_by_id(conn, id, true).await?.ok_or(missing("user"))?;
            let role = update
                .role
                .map_or(current.role.clone(), |r| r.as_str().to_owned());
            let active = update
                .disabled
                .map_or(current.disabled_at.is_none(), |d| !d);
            if (role != "admin" || !active) && other_active_admins(conn, id).await? == 0 {
                return Err(LAST);
            }
            let row: UserRow = diesel::sql_query(format!(
                "UPDATE users u SET role = $2, updated_at = $3, disabled_at = CASE \
                   WHEN $4::boolean IS NULL THEN u.disabled_at \
                   WHEN $4 THEN coalesce(u.disabled_at, $3) ELSE NULL END \
                 WHERE u.id = $1 RETURNING {USER_COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(&role)
            .bind::<Timestamptz, _>(now)
            .bind::<Nullable<diesel::sql_types::Bool>, _>(update.disabled)
            .get_result(conn)
            .await?;
            if row.disabled_at.is_some() {
                revoke_sessions(conn, id, None, now).await?;
                revoke_tokens_of(conn, id, now).await?;
            }
            row
        })?
        .into_domain()
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        keep: Option<Uuid>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "user", audit, |conn| {
            let n = diesel::sql_query(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(hash)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(missing("user"));
            }
            revoke_sessions(conn, id, keep, now).await?;
        })
    }

    async fn delete_user(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "user", audit, |conn| {
            lock_users(conn).await?;
            user_by_id(conn, id, true).await?.ok_or(missing("user"))?;
            if other_active_admins(conn, id).await? == 0 {
                return Err(LAST);
            }
            revoke_tokens_of(conn, id, now).await?;
            // Sessions and their refresh tokens go with the user (ON DELETE CASCADE).
            diesel::sql_query("DELETE FROM users WHERE id = $1")
                .bind::<SqlUuid, _>(id)
                .execute(conn)
                .await?;
        })
    }
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    expires_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    address: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            address: r.address,
        }
    }
}

#[derive(QueryableByName)]
struct RefreshRow {
    #[diesel(sql_type = SqlUuid)]
    session_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    expires_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    used_at: Option<OffsetDateTime>,
}

async fn insert_refresh(
    conn: &mut AsyncPgConnection,
    r: &RefreshRecord,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind::<Text, _>(r.hash.as_str())
    .bind::<SqlUuid, _>(r.session_id)
    .bind::<Timestamptz, _>(r.issued_at)
    .bind::<Timestamptz, _>(r.expires_at)
    .execute(conn)
    .await
    .map(drop)
}

#[async_trait]
impl SessionStore for PgStore {
    async fn start_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "session", audit, |conn| {
            let n = diesel::sql_query(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, address) \
                 SELECT $1, id, $3, $4, $5 FROM users WHERE id = $2",
            )
            .bind::<SqlUuid, _>(session.id)
            .bind::<SqlUuid, _>(session.user_id)
            .bind::<Timestamptz, _>(session.created_at)
            .bind::<Timestamptz, _>(session.expires_at)
            .bind::<Nullable<Text>, _>(session.address.as_deref())
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(missing("user"));
            }
            insert_refresh(conn, first).await?;
        })
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
        reuse_audit: &AuditEntry,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut conn = self.conn().await?;
        let r = conn
            .transaction::<_, Tx, _>(async |conn| {
                // FOR UPDATE: a second use of the same token waits, then sees it used.
                let Some(token): Option<RefreshRow> = diesel::sql_query(
                    "SELECT session_id, expires_at, used_at FROM refresh_tokens \
                     WHERE token_hash = $1 FOR UPDATE",
                )
                .bind::<Text, _>(presented.as_str())
                .get_result(conn)
                .await
                .optional()?
                else {
                    return Ok(RefreshOutcome::Invalid);
                };
                let session: Session = diesel::sql_query(
                    "SELECT id, user_id, created_at, expires_at, revoked_at, address \
                     FROM sessions WHERE id = $1 FOR UPDATE",
                )
                .bind::<SqlUuid, _>(token.session_id)
                .get_result::<SessionRow>(conn)
                .await?
                .into();
                if token.used_at.is_some() {
                    if session.revoked_at.is_some() {
                        return Ok(RefreshOutcome::Invalid);
                    }
                    diesel::sql_query("UPDATE sessions SET revoked_at = $2 WHERE id = $1")
                        .bind::<SqlUuid, _>(session.id)
                        .bind::<Timestamptz, _>(now)
                        .execute(conn)
                        .await?;
                    write_audit(conn, reuse_audit).await?;
                    return Ok(RefreshOutcome::Reused { session });
                }
                let user = user_by_id(conn, session.user_id, false).await?;
                let user = match user {
                    Some(u) if u.disabled_at.is_none() => u,
                    _ => return Ok(RefreshOutcome::Invalid),
                };
                if !session.is_live(now) || now >= token.expires_at {
                    return Ok(RefreshOutcome::Invalid);
                }
                diesel::sql_query("UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1")
                    .bind::<Text, _>(presented.as_str())
                    .bind::<Timestamptz, _>(now)
                    .execute(conn)
                    .await?;
                insert_refresh(conn, &RefreshRecord::of_hash(next.clone(), &session, now)).await?;
                let user = user.into_domain().map_err(Tx::Refused)?;
                Ok(RefreshOutcome::Rotated { user, session })
            })
            .await;
        tx_result(r, "refresh token")
    }

    async fn revoke_session(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "session", audit, |conn| {
            let n = diesel::sql_query(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            if n == 0 {
                return Err(missing("session"));
            }
        })
    }

    async fn session_user(
        &self,
        session: Uuid,
        user: Uuid,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        let row: UserRow = diesel::sql_query(format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 \
               AND u.disabled_at IS NULL"
        ))
        .bind::<SqlUuid, _>(session)
        .bind::<SqlUuid, _>(user)
        .bind::<Timestamptz, _>(now)
        .get_result(&mut conn)
        .await
        .map_err(|e| store_error(e, "session"))?;
        row.into_domain()
    }
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: OffsetDateTime,
    #[diesel(sql_type = Text)]
    actor_kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    actor_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    actor_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    actor_role: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    address: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    target: Option<String>,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Jsonb)]
    details: serde_json::Value,
}

impl AuditRow {
    fn into_domain(self) -> Result<StoredAuditEntry, StoreError> {
        let corrupt =
            |what| StoreError::unknown(format!("audit entry {} has an invalid {what}", self.id));
        Ok(StoredAuditEntry {
            id: self.id,
            entry: AuditEntry {
                at: self.at,
                actor: Actor {
                    kind: ActorKind::parse(&self.actor_kind)
                        .ok_or_else(|| corrupt("actor kind"))?,
                    id: self.actor_id,
                    name: self.actor_name,
                    role: self.actor_role.as_deref().and_then(|r| Role::parse(r).ok()),
                },
                address: self.address,
                request_id: self.request_id,
                action: self.action,
                target: self.target,
                outcome: Outcome::parse(&self.outcome).ok_or_else(|| corrupt("outcome"))?,
                details: serde_json::from_value(self.details).map_err(|_| corrupt("details"))?,
            },
        })
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        write_audit(&mut conn, entry)
            .await
            .map_err(|e| store_error(e, "audit entry"))
    }

    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError> {
        let mut conn = self.conn().await?;
        // Mirrors AuditQuery::matches; the keyset cursor is the id.
        let rows: Vec<AuditRow> = diesel::sql_query(
            "SELECT id, at, actor_kind, actor_id, actor_name, actor_role, address, request_id, \
                    action, target, outcome, details \
             FROM audit_log \
             WHERE ($1::text IS NULL OR actor_kind = $1) \
               AND ($2::text IS NULL OR actor_id = $2) \
               AND ($3::text IS NULL OR action = $3 OR (right($3, 1) = '.' AND starts_with(action, $3))) \
               AND ($4::text IS NULL OR target = $4) \
               AND ($5::text IS NULL OR outcome = $5) \
               AND ($6::timestamptz IS NULL OR at >= $6) \
               AND ($7::timestamptz IS NULL OR at < $7) \
               AND ($8::bigint IS NULL OR id < $8) \
             ORDER BY id DESC LIMIT $9",
        )
        .bind::<Nullable<Text>, _>(q.actor_kind.map(ActorKind::as_str))
        .bind::<Nullable<Text>, _>(q.actor_id.as_deref())
        .bind::<Nullable<Text>, _>(q.action.as_deref())
        .bind::<Nullable<Text>, _>(q.target.as_deref())
        .bind::<Nullable<Text>, _>(q.outcome.map(Outcome::as_str))
        .bind::<Nullable<Timestamptz>, _>(q.since)
        .bind::<Nullable<Timestamptz>, _>(q.until)
        .bind::<Nullable<BigInt>, _>(q.before_id)
        .bind::<BigInt, _>(i64::try_from(q.limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(|e| store_error(e, "audit entry"))?;
        rows.into_iter().map(AuditRow::into_domain).collect()
    }
}

#[derive(QueryableByName)]
struct SecretRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sealed: String,
}

#[async_trait]
impl SecretStore for PgStore {
    async fn put_secret(
        &self,
        name: &str,
        sealed: &str,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        audited!(self, "secret", audit, |conn| {
            diesel::sql_query(
                "INSERT INTO secrets (name, sealed, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at",
            )
            .bind::<Text, _>(name)
            .bind::<Text, _>(sealed)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
        })
    }

    async fn get_secret(&self, name: &str) -> Result<String, StoreError> {
        let mut conn = self.conn().await?;
        let row: SecretRow = diesel::sql_query("SELECT name, sealed FROM secrets WHERE name = $1")
            .bind::<Text, _>(name)
            .get_result(&mut conn)
            .await
            .map_err(|e| store_error(e, "secret"))?;
        Ok(row.sealed)
    }

    async fn list_secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<SecretRow> =
            diesel::sql_query("SELECT name, sealed FROM secrets ORDER BY name COLLATE \"C\"")
                .load(&mut conn)
                .await
                .map_err(|e| store_error(e, "secret"))?;
        Ok(rows.into_iter().map(|r| (r.name, r.sealed)).collect())
    }

    async fn reseal_secret(&self, name: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query("UPDATE secrets SET sealed = $3 WHERE name = $1 AND sealed = $2")
            .bind::<Text, _>(name)
            .bind::<Text, _>(old)
            .bind::<Text, _>(new)
            .execute(&mut conn)
            .await
            .map_err(|e| store_error(e, "secret"))?;
        Ok(n == 1)
    }
}
