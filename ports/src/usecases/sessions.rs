//! People's sessions: login (throttled, constant-time), refresh-token rotation with reuse
//! detection, logout, and authenticating each request (access token or API token).

use pganalytics_domain::access::{Principal, PrincipalKind};
use pganalytics_domain::audit::{Actor, ActorKind, AuditContext, Origin};
use pganalytics_domain::credentials::{ApiTokenSecret, Claims as _};
use pganalytics_domain::throttle::{LoginThrottle, ThrottlePolicy};
use pganalytics_domain::users::{
    AccessClaims, ConsoleClaims, RefreshRecord, RefreshSecret, Session, User, Username,
};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

use crate::crypto::{PasswordError, PasswordHasher, TokenError, TokenSigner};
use crate::env::{Clock, IdSource};
use crate::store::{ApiTokenStore, AuditStore, RefreshOutcome, SessionStore, UserStore};
use crate::usecases::auth::opaque_debug;
use crate::{Backend, StoreError};

/// What a login or a refresh hands out.
pub struct Tokens {
    pub user: User,
    pub access_token: String,
    pub access_expires_at: OffsetDateTime,
    pub refresh_token: RefreshSecret,
    pub refresh_expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("user", &self.user.username)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// What the console's sign-in hands out: the token for the browser's cookie.
pub struct ConsoleSession {
    pub user: User,
    pub token: String,
    pub expires_at: OffsetDateTime,
    /// How long from now the session lasts (the cookie's `Max-Age`).
    pub max_age: Duration,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("user", &self.user.username)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled account: one answer for all three.
    #[error("the user name or password is wrong")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {} s", .0.whole_seconds().max(1))]
    Throttled(Duration),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("the access token could not be signed")]
    Token(TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Mints an access token and a first or next refresh token for a session.
struct Minter {
    signer: Arc<dyn TokenSigner>,
    ids: Arc<dyn IdSource>,
}

impl Minter {
    fn access(
        &self,
        user: &User,
        session: &Session,
        now: OffsetDateTime,
    ) -> Result<(String, OffsetDateTime), TokenError> {
        let claims = AccessClaims::new(user.id, session.id, self.ids.uuid(), now);
        Ok((self.signer.issue_access(&claims)?, claims.expires_at()))
    }
    fn refresh(&self) -> RefreshSecret {
        RefreshSecret::from_bytes(&self.ids.secret())
    }
}

pub struct Login {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    audit: Arc<dyn AuditStore>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    minter: Minter,
    /// Failures per (account, address): refused with a wait.
    pairs: Mutex<LoginThrottle<(String, String)>>,
    /// Failures per address, any account: refused with a wait.
    addresses: Mutex<LoginThrottle<String>>,
    /// Failures per account, any address: slowed, never refused.
    accounts: Mutex<LoginThrottle<String>>,
}

impl Login {
    pub fn new(b: &Backend) -> Self {
        Self {
            users: b.users.clone(),
            sessions: b.sessions.clone(),
            audit: b.audit.clone(),
            hasher: b.hasher.clone(),
            clock: b.clock.clone(),
            minter: Minter {
                signer: b.signer.clone(),
                ids: b.ids.clone(),
            },
            pairs: Mutex::new(LoginThrottle::new(ThrottlePolicy::PAIR)),
            addresses: Mutex::new(LoginThrottle::new(ThrottlePolicy::ADDRESS)),
            accounts: Mutex::new(LoginThrottle::new(ThrottlePolicy::ACCOUNT)),
        }
    }

    fn throttled(
        &self,
        pair: &(String, String),
        address: &String,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let a = self.pairs.lock().expect("throttle lock").check(pair, now);
        let b = self
            .addresses
            .lock()
            .expect("throttle lock")
            .check(address, now);
        match (a, b) {
            (Ok(()), Ok(())) => None,
            (Err(x), Ok(())) | (Ok(()), Err(x)) => Some(x),
            (Err(x), Err(y)) => Some(x.max(y)),
        }
    }

    /// Checks `password` for `username`. The same work is done whether or not the user
    /// exists, and the throttle is keyed by the name given, so neither the answer, its
    /// timing nor the throttling tells whether an account exists.
    ///
    /// Throttling (`ThrottlePolicy`): an address that failed too often for this account,
    /// or for any accounts, waits (`Throttled`); an account failed too often from
    /// everywhere is only slowed (a pause on the clock before the check), so nobody can
    /// lock its owner out.
    pub async fn execute(
        &self,
        username: &str,
        password: SecretString,
        origin: Origin,
    ) -> Result<Tokens, LoginError> {
        let (user, now) = self.check(username, password, &origin).await?;
        self.start(user, origin, now).await
    }

    /// The console's sign-in: the same checks and throttling as [`execute`](Self::execute),
    /// and a session of the same kind (listed, revoked and ended like any other), handed
    /// out as a console-session token for the browser's cookie.
    pub async fn console(
        &self,
        username: &str,
        password: SecretString,
        origin: Origin,
    ) -> Result<ConsoleSession, LoginError> {
        let (user, now) = self.check(username, password, &origin).await?;
        let (session, _) = self.open_session(&user, origin, now, "console").await?;
        let claims = ConsoleClaims::new(
            &session,
            &self.minter.ids.secret(),
            self.minter.ids.uuid(),
            now,
        );
        let token = self
            .minter
            .signer
            .issue_console(&claims)
            .map_err(LoginError::Token)?;
        let expires_at = claims.registered.expires_at();
        Ok(ConsoleSession {
            user,
            token,
            expires_at,
            max_age: Duration::seconds(claims.registered.exp - claims.registered.iat),
        })
    }

    /// The user `username` names if `password` is theirs, throttled.
    async fn check(
        &self,
        username: &str,
        password: SecretString,
        origin: &Origin,
    ) -> Result<(User, OffsetDateTime), LoginError> {
        let now = self.clock.now();
        let account = username.to_owned();
        let address = origin.address.clone().unwrap_or_default();
        let pair = (account.clone(), address.clone());
        if let Some(wait) = self.throttled(&pair, &address, now) {
            return Err(LoginError::Throttled(wait));
        }
        let pause = self
            .accounts
            .lock()
            .expect("throttle lock")
            .delay(&account, now);
        if pause > Duration::ZERO {
            self.clock.sleep(pause).await;
        }
        let user = match Username::parse(username) {
            Ok(name) => match self.users.find_user(&name).await {
                Ok(u) => Some(u),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        let hash = user
            .as_ref()
            .filter(|u| u.is_active())
            .map(|u| u.password_hash.clone());
        let ok = match self.hasher.verify(password, hash).await {
            Ok(ok) => ok,
            Err(PasswordError::TooLong) => false,
            Err(e) => return Err(e.into()),
        };
        let user = match (ok, user) {
            (true, Some(user)) => user,
            (_, user) => {
                self.failed(&pair, user.as_ref(), origin.clone(), now).await;
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.pairs
            .lock()
            .expect("throttle lock")
            .record_success(&pair);
        self.accounts
            .lock()
            .expect("throttle lock")
            .record_success(&account);
        Ok((user, now))
    }

    async fn failed(
        &self,
        pair: &(String, String),
        user: Option<&User>,
        origin: Origin,
        now: OffsetDateTime,
    ) {
        let (account, address) = pair;
        self.pairs
            .lock()
            .expect("throttle lock")
            .record_failure(pair, now);
        self.addresses
            .lock()
            .expect("throttle lock")
            .record_failure(address, now);
        self.accounts
            .lock()
            .expect("throttle lock")
            .record_failure(account, now);
        let ctx = AuditContext {
            actor: Actor {
                kind: ActorKind::Anonymous,
                id: user.map(|u| u.id.to_string()),
                name: Some(account.chars().take(64).collect()),
                role: None,
            },
            origin,
        };
        let entry = ctx
            .entry("auth.login", user.map(|u| format!("user:{}", u.id)), now)
            .denied();
        // A failed login changes nothing; losing its audit row to a database fault is
        // better than answering 503 to a login that was refused anyway.
        let _ = self.audit.append_audit(&entry).await;
    }

    async fn start(
        &self,
        user: User,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<Tokens, LoginError> {
        let (session, refresh) = self.open_session(&user, origin, now, "api").await?;
        let record = RefreshRecord::new(&refresh, &session, now);
        let (access_token, access_expires_at) = self
            .minter
            .access(&user, &session, now)
            .map_err(LoginError::Token)?;
        Ok(Tokens {
            user,
            access_token,
            access_expires_at,
            refresh_token: refresh,
            refresh_expires_at: record.expires_at,
        })
    }

    /// Stores a new session of `user` with its first refresh token, audited as a login
    /// `via` the API or the console.
    async fn open_session(
        &self,
        user: &User,
        origin: Origin,
        now: OffsetDateTime,
        via: &str,
    ) -> Result<(Session, RefreshSecret), LoginError> {
        let session = Session {
            id: self.minter.ids.uuid(),
            user_id: user.id,
            created_at: now,
            expires_at: now + Session::MAX_LIFETIME,
            revoked_at: None,
            address: origin.address.clone(),
        };
        let refresh = self.minter.refresh();
        let record = RefreshRecord::new(&refresh, &session, now);
        let principal = user_principal(user, session.id);
        let ctx = AuditContext {
            actor: principal.actor(),
            origin,
        };
        let audit = ctx
            .entry("auth.login", Some(format!("user:{}", user.id)), now)
            .detail("session", session.id)
            .detail("via", via);
        self.sessions
            .start_session(&session, &record, &audit)
            .await?;
        Ok((session, refresh))
    }
}

pub(crate) fn user_principal(user: &User, session: uuid::Uuid) -> Principal {
    Principal {
        kind: PrincipalKind::User {
            id: user.id,
            username: user.username.as_str().to_owned(),
            session,
        },
        role: user.role,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is not valid; log in again")]
    Invalid,
    #[error("this refresh token was already used: the session has been revoked; log in again")]
    Reused,
    #[error("the access token could not be signed")]
    Token(TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rotates a refresh token: each one works once.
pub struct RefreshSession {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    minter: Minter,
}

impl RefreshSession {
    pub fn new(b: &Backend) -> Self {
        Self {
            sessions: b.sessions.clone(),
            clock: b.clock.clone(),
            minter: Minter {
                signer: b.signer.clone(),
                ids: b.ids.clone(),
            },
        }
    }

    pub async fn execute(&self, presented: &str, origin: Origin) -> Result<Tokens, RefreshError> {
        let presented = RefreshSecret::parse(presented).map_err(|_| RefreshError::Invalid)?;
        let now = self.clock.now();
        let next = self.minter.refresh();
        let ctx = AuditContext {
            actor: Actor::anonymous(),
            origin,
        };
        let reuse = ctx.entry("auth.refresh_reuse", None, now).denied();
        match self
            .sessions
            .rotate_refresh(&presented.hash(), &next.hash(), now, &reuse)
            .await?
        {
            RefreshOutcome::Rotated { user, session } => {
                let (access_token, access_expires_at) = self
                    .minter
                    .access(&user, &session, now)
                    .map_err(RefreshError::Token)?;
                let refresh_expires_at = RefreshRecord::new(&next, &session, now).expires_at;
                Ok(Tokens {
                    user,
                    access_token,
                    access_expires_at,
                    refresh_token: next,
                    refresh_expires_at,
                })
            }
            RefreshOutcome::Reused { .. } => Err(RefreshError::Reused),
            RefreshOutcome::Invalid => Err(RefreshError::Invalid),
        }
    }
}

/// Ends the caller's session: its refresh token and every access token of it stop working.
pub struct Logout {
    pub sessions: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
}

impl Logout {
    /// `false` when the caller is not a logged-in person (an API token has no session).
    pub async fn execute(&self, ctx: &AuditContext, who: &Principal) -> Result<bool, StoreError> {
        let PrincipalKind::User { id, session, .. } = &who.kind else {
            return Ok(false);
        };
        let now = self.clock.now();
        let audit = ctx
            .entry("auth.logout", Some(format!("user:{id}")), now)
            .detail("session", session);
        self.sessions.revoke_session(*session, now, &audit).await?;
        Ok(true)
    }
}

/// A credential as presented in a request.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: an access token, or an API token (they look different).
    Bearer(String),
    /// `Authorization: ApiKey …` or `X-API-Key: …`.
    ApiKey(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bearer(_) => "Credential::Bearer(…)",
            Self::ApiKey(_) => "Credential::ApiKey(…)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PersonAuthError {
    #[error("authentication is required: an access token or an API token")]
    Missing,
    #[error("the access token is not valid: {0}")]
    InvalidAccessToken(TokenError),
    #[error(
        "the session has ended (logged out, revoked, or the account is disabled); log in again"
    )]
    SessionEnded,
    #[error("the API token is not valid (unknown, revoked or expired)")]
    InvalidApiToken,
    #[error(transparent)]
    Store(StoreError),
}

/// Authenticates a person or a script on each request. Every check reads the store, so a
/// revoked token, a logout or a disabled account takes effect on the next request.
pub struct AuthenticatePerson {
    pub tokens: Arc<dyn ApiTokenStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
}

impl AuthenticatePerson {
    pub async fn execute(
        &self,
        credential: Option<&Credential>,
    ) -> Result<Principal, PersonAuthError> {
        match credential.ok_or(PersonAuthError::Missing)? {
            Credential::Bearer(t) if t.starts_with(ApiTokenSecret::PREFIX) => {
                self.api_token(t).await
            }
            Credential::ApiKey(t) => self.api_token(t).await,
            Credential::Bearer(t) => self.access_token(t).await,
        }
    }

    /// A browser's console-session token (its cookie): the person, and the session's
    /// claims (its CSRF token). The session is checked as for an access token.
    pub async fn console(
        &self,
        token: Option<&str>,
    ) -> Result<(Principal, ConsoleClaims), PersonAuthError> {
        let token = token.ok_or(PersonAuthError::Missing)?;
        let now = self.clock.now();
        let claims = self
            .signer
            .verify_console(token, now)
            .map_err(PersonAuthError::InvalidAccessToken)?;
        let principal = self.session_principal(claims.sid, claims.sub, now).await?;
        Ok((principal, claims))
    }

    async fn access_token(&self, token: &str) -> Result<Principal, PersonAuthError> {
        let now = self.clock.now();
        let claims = self
            .signer
            .verify_access(token, now)
            .map_err(PersonAuthError::InvalidAccessToken)?;
        self.session_principal(claims.sid, claims.sub, now).await
    }

    /// The person of a live session; the role is today's, not the one the token was
    /// minted with.
    async fn session_principal(
        &self,
        sid: uuid::Uuid,
        sub: uuid::Uuid,
        now: OffsetDateTime,
    ) -> Result<Principal, PersonAuthError> {
        match self.sessions.session_user(sid, sub, now).await {
            Ok(user) => Ok(user_principal(&user, sid)),
            Err(StoreError::NotFound { .. }) => Err(PersonAuthError::SessionEnded),
            Err(e) => Err(PersonAuthError::Store(e)),
        }
    }

    async fn api_token(&self, presented: &str) -> Result<Principal, PersonAuthError> {
        let secret =
            ApiTokenSecret::parse(presented).map_err(|_| PersonAuthError::InvalidApiToken)?;
        let token = match self.tokens.find_api_token(&secret.hash()).await {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return Err(PersonAuthError::InvalidApiToken),
            Err(e) => return Err(PersonAuthError::Store(e)),
        };
        token
            .check_usable(self.clock.now())
            .map_err(|_| PersonAuthError::InvalidApiToken)?;
        Ok(Principal {
            kind: PrincipalKind::ApiToken {
                id: token.id,
                prefix: token.prefix,
                owner: token.owner,
            },
            role: token.role,
        })
    }
}

opaque_debug!(Login, RefreshSession, Logout, AuthenticatePerson);
