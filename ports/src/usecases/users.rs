//! Managing people: accounts (the first administrator included), passwords, the audit log,
//! and the server's encrypted secrets.

use pganalytics_domain::access::{Principal, PrincipalKind, Role};
use pganalytics_domain::audit::{AuditContext, AuditQuery, StoredAuditEntry};
use pganalytics_domain::users::{
    User, UserError, UserUpdate, Username, check_new_password, generated_password,
};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use uuid::Uuid;

use crate::StoreError;
use crate::crypto::{CipherError, PasswordError, PasswordHasher, SecretCipher};
use crate::env::{Clock, IdSource};
use crate::store::{AuditStore, ChannelStore, LAST_ADMIN, SecretStore, UserStore};
use crate::usecases::alerts::CHANNEL_SECRET;
use crate::usecases::auth::opaque_debug;

#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    #[error(transparent)]
    Invalid(#[from] UserError),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("there must be at least one active admin: this change would leave none")]
    LastAdmin,
    #[error("a user named {0} already exists")]
    NameTaken(String),
    #[error("only a logged-in user can change their own password")]
    NotAUser,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserAdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { entity } if entity == LAST_ADMIN => Self::LastAdmin,
            other => Self::Store(other),
        }
    }
}

/// A password given, or one generated and to be shown once.
#[derive(Debug)]
pub enum NewPassword {
    Given(SecretString),
    Generate,
}

pub struct UserAdmin {
    pub users: Arc<dyn UserStore>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl UserAdmin {
    /// The checked password and its hash, plus the plain text when it was generated.
    async fn password(
        &self,
        user: &Username,
        password: NewPassword,
    ) -> Result<(String, Option<SecretString>), UserAdminError> {
        let (plain, generated) = match password {
            NewPassword::Given(p) => {
                check_new_password(user, p.expose_secret())?;
                (p, false)
            }
            NewPassword::Generate => {
                let bytes = self.ids.secret();
                let mut random = [0u8; 20];
                random.copy_from_slice(&bytes[..20]);
                (SecretString::from(generated_password(&random)), true)
            }
        };
        let hash = self.hasher.hash(plain.clone()).await?;
        Ok((hash, generated.then_some(plain)))
    }

    fn new_user(&self, username: Username, role: Role, hash: String) -> User {
        let now = self.clock.now();
        User {
            id: self.ids.uuid(),
            username,
            role,
            password_hash: hash,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        }
    }

    /// Creates a user; returns the generated password when none was given.
    pub async fn create(
        &self,
        ctx: &AuditContext,
        username: &str,
        role: Role,
        password: NewPassword,
    ) -> Result<(User, Option<SecretString>), UserAdminError> {
        let username = Username::parse(username)?;
        let (hash, shown) = self.password(&username, password).await?;
        let user = self.new_user(username, role, hash);
        let audit = ctx
            .entry(
                "user.create",
                Some(format!("user:{}", user.id)),
                user.created_at,
            )
            .detail("username", &user.username)
            .detail("role", role.as_str());
        match self.users.create_user(&user, &audit).await {
            Ok(()) => Ok((user, shown)),
            Err(StoreError::Conflict { .. }) => {
                Err(UserAdminError::NameTaken(user.username.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// On a server with no user at all, creates `admin` with `password` or a generated one
    /// (returned, to be printed once). `None` when users exist already.
    pub async fn ensure_first_admin(
        &self,
        password: Option<SecretString>,
    ) -> Result<Option<(User, Option<SecretString>)>, UserAdminError> {
        if !self.users.list_users().await?.is_empty() {
            return Ok(None);
        }
        let username = Username::parse("admin")?;
        let password = password.map_or(NewPassword::Generate, NewPassword::Given);
        let (hash, shown) = self.password(&username, password).await?;
        let user = self.new_user(username, Role::Admin, hash);
        let audit = AuditContext::cli(None)
            .entry(
                "user.create",
                Some(format!("user:{}", user.id)),
                user.created_at,
            )
            .detail("username", &user.username)
            .detail("role", "admin")
            .detail("reason", "first start");
        Ok(self
            .users
            .create_first_user(&user, &audit)
            .await?
            .then_some((user, shown)))
    }

    pub async fn list(&self) -> Result<Vec<User>, StoreError> {
        self.users.list_users().await
    }

    pub async fn get(&self, id: Uuid) -> Result<User, StoreError> {
        self.users.get_user(id).await
    }

    pub async fn find(&self, name: &str) -> Result<User, UserAdminError> {
        Ok(self.users.find_user(&Username::parse(name)?).await?)
    }

    pub async fn update(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        update: &UserUpdate,
    ) -> Result<User, UserAdminError> {
        let now = self.clock.now();
        let mut audit = ctx.entry("user.update", Some(format!("user:{id}")), now);
        if let Some(role) = update.role {
            audit = audit.detail("role", role.as_str());
        }
        if let Some(disabled) = update.disabled {
            audit = audit.detail("disabled", disabled);
        }
        Ok(self.users.update_user(id, update, now, &audit).await?)
    }

    pub async fn delete(&self, ctx: &AuditContext, id: Uuid) -> Result<(), UserAdminError> {
        let now = self.clock.now();
        let audit = ctx.entry("user.delete", Some(format!("user:{id}")), now);
        Ok(self.users.delete_user(id, now, &audit).await?)
    }

    /// An administrator sets a user's password (given or generated); every session of the
    /// user ends. Returns the generated password.
    pub async fn reset_password(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        password: NewPassword,
    ) -> Result<Option<SecretString>, UserAdminError> {
        let user = self.users.get_user(id).await?;
        let (hash, shown) = self.password(&user.username, password).await?;
        let now = self.clock.now();
        let audit = ctx.entry("user.password.reset", Some(format!("user:{id}")), now);
        self.users
            .set_password(id, &hash, None, now, &audit)
            .await?;
        Ok(shown)
    }

    /// A user changes their own password, proving the current one; their other sessions end.
    pub async fn change_own_password(
        &self,
        ctx: &AuditContext,
        who: &Principal,
        current: SecretString,
        new: SecretString,
    ) -> Result<(), UserAdminError> {
        let PrincipalKind::User { id, session, .. } = &who.kind else {
            return Err(UserAdminError::NotAUser);
        };
        let user = self.users.get_user(*id).await?;
        if !self
            .hasher
            .verify(current, Some(user.password_hash.clone()))
            .await
            .unwrap_or(false)
        {
            return Err(UserAdminError::WrongPassword);
        }
        let (hash, _) = self
            .password(&user.username, NewPassword::Given(new))
            .await?;
        let now = self.clock.now();
        let audit = ctx.entry("user.password.change", Some(format!("user:{id}")), now);
        self.users
            .set_password(*id, &hash, Some(*session), now, &audit)
            .await?;
        Ok(())
    }
}

/// Reads the audit log.
pub struct AuditLog {
    pub audit: Arc<dyn AuditStore>,
}

impl AuditLog {
    pub async fn list(&self, mut query: AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError> {
        query.limit = query.limit.clamp(1, AuditQuery::MAX_LIMIT);
        self.audit.list_audit(&query).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("a secret name is 1 to 128 characters: letters, digits, '.', '_', ':' and '-'")]
    Name,
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a rotation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub resealed: usize,
    pub already_current: usize,
}

/// Secrets the server keeps (webhook signing keys, database credentials), encrypted at
/// rest; the secret's name is its purpose, bound into the ciphertext. Notification
/// channels keep theirs on the channel, and are rotated with the rest.
pub struct Secrets {
    pub store: Arc<dyn SecretStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub cipher: Arc<dyn SecretCipher>,
    pub clock: Arc<dyn Clock>,
}

fn purpose(name: &str) -> Result<String, SecretsError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if name.is_empty() || name.len() > 128 || !name.chars().all(ok) {
        return Err(SecretsError::Name);
    }
    Ok(format!("secret:{name}"))
}

impl Secrets {
    pub async fn put(
        &self,
        ctx: &AuditContext,
        name: &str,
        value: &SecretString,
    ) -> Result<(), SecretsError> {
        let sealed = self.cipher.seal(value, &purpose(name)?)?;
        let now = self.clock.now();
        let audit = ctx.entry("secret.put", Some(format!("secret:{name}")), now);
        Ok(self.store.put_secret(name, &sealed, now, &audit).await?)
    }

    pub async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        let sealed = self.store.get_secret(name).await?;
        Ok(self.cipher.open(&sealed, &purpose(name)?)?)
    }

    /// Re-encrypts every secret not under the current key. Run after putting a new key first
    /// in the ring; the old key can leave the ring once this reports no failure.
    pub async fn rotate(&self) -> Result<RotationReport, SecretsError> {
        let mut report = RotationReport::default();
        for (name, sealed) in self.store.list_secrets().await? {
            match self.cipher.reseal(&sealed, &purpose(&name)?)? {
                Some(new) => {
                    // Lost a race with an update: that update is already under the new key.
                    self.store.reseal_secret(&name, &sealed, &new).await?;
                    report.resealed += 1;
                }
                None => report.already_current += 1,
            }
        }
        for c in self.channels.list_channels().await? {
            let Some(sealed) = c.sealed_secret else {
                continue;
            };
            match self.cipher.reseal(&sealed, CHANNEL_SECRET)? {
                Some(new) => {
                    self.channels
                        .reseal_channel_secret(c.channel.id, &sealed, &new)
                        .await?;
                    report.resealed += 1;
                }
                None => report.already_current += 1,
            }
        }
        Ok(report)
    }
}

opaque_debug!(UserAdmin, AuditLog, Secrets);
