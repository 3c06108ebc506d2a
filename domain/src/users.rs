//! People: user accounts, the password rules, and the two credentials a login hands out —
//! a short-lived access token (a JWT, [`AccessClaims`]) and a rotating refresh token
//! ([`RefreshSecret`]) whose reuse revokes its whole session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::access::Role;
use crate::credentials::{Claims, CredentialError, RegisteredClaims, SecretBytes, TokenHash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error(
        "a user name is 1 to 64 characters: letters, digits, '.', '_', '-' and '@', starting with a letter or digit"
    )]
    InvalidName,
    #[error("a password is at least {min} characters long", min = PASSWORD_MIN_CHARS)]
    PasswordTooShort,
    #[error("a password is at most {max} bytes long", max = PASSWORD_MAX_BYTES)]
    PasswordTooLong,
    #[error("the password must not contain the user name")]
    PasswordContainsName,
    #[error("a password must not contain control characters")]
    PasswordControlCharacters,
}

/// A login name: a conservative alphabet so it is safe in logs and URLs, and normalised to
/// lower case, so `Admin` and `admin` are one user (issue 11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, UserError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if s.len() > 64 || !first_ok || !s.chars().all(ok_char) {
            return Err(UserError::InvalidName);
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = UserError;
    fn try_from(s: String) -> Result<Self, UserError> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN_CHARS: usize = 12;
/// Bcrypt reads at most 72 bytes including a terminating NUL; longer is refused, not cut.
pub const PASSWORD_MAX_BYTES: usize = 71;

/// The rules a new password must meet (NIST SP 800-63B: length, not composition rules).
pub fn check_new_password(user: &Username, password: &str) -> Result<(), UserError> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(UserError::PasswordTooShort);
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(UserError::PasswordTooLong);
    }
    // NUL ends a bcrypt password in most implementations; none of them is typed.
    if password.chars().any(char::is_control) {
        return Err(UserError::PasswordControlCharacters);
    }
    if password
        .to_lowercase()
        .contains(&user.as_str().to_lowercase())
    {
        return Err(UserError::PasswordContainsName);
    }
    Ok(())
}

/// A password made from 20 random bytes (160 bits), 27 URL-safe characters: what the first
/// start and `user reset` print once.
pub fn generated_password(random: &[u8; 20]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// A user as stored. The password hash never leaves the store in an API answer, and `Debug`
/// leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub username: Username,
    pub role: Role,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// What an administrator may change on an account (password changes are separate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Claims of a person's access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session (refresh-token family) the token belongs to: logging out or a detected
    /// refresh-token reuse revokes it, and the access token with it, at once.
    pub sid: Uuid,
    #[serde(flatten)]
    pub registered: RegisteredClaims,
}

impl AccessClaims {
    pub const LIFETIME: Duration = Duration::minutes(15);

    pub fn new(user: Uuid, session: Uuid, jti: Uuid, now: OffsetDateTime) -> Self {
        Self {
            sub: user,
            sid: session,
            registered: RegisteredClaims::new(Self::AUDIENCE, Self::LIFETIME, jti, now),
        }
    }
}

impl Claims for AccessClaims {
    const AUDIENCE: &'static str = "pganalytics-api";
    fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }
}

/// Claims of a browser's console session: the `HttpOnly` cookie the console signs people in
/// with. Like an access token it names the session, which is checked on every request (a
/// sign-out, a revoked session or a disabled account ends it at once); unlike one it lives a
/// working day, and it carries the session's CSRF token, which every state-changing form
/// must echo ([`ConsoleClaims::csrf_matches`]). Its own audience: it is never an access
/// token, nor an access token a console session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    /// 32 random bytes, URL-safe base64: what a form sends back.
    pub csrf: String,
    #[serde(flatten)]
    pub registered: RegisteredClaims,
}

impl fmt::Debug for ConsoleClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleClaims")
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .field("registered", &self.registered)
            .finish_non_exhaustive()
    }
}

impl ConsoleClaims {
    /// A console session lasts a working day; then the person signs in again.
    pub const LIFETIME: Duration = Duration::hours(12);

    /// Claims for `session`, never outliving it.
    pub fn new(session: &Session, csrf: &SecretBytes, jti: Uuid, now: OffsetDateTime) -> Self {
        let lifetime = Self::LIFETIME.min(session.expires_at - now);
        Self {
            sub: session.user_id,
            sid: session.id,
            csrf: URL_SAFE_NO_PAD.encode(csrf),
            registered: RegisteredClaims::new(Self::AUDIENCE, lifetime, jti, now),
        }
    }

    /// Whether a form's token is this session's, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl Claims for ConsoleClaims {
    const AUDIENCE: &'static str = "pganalytics-console";
    fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }
}

/// A refresh token as handed to the client: `pgr_` + 43 URL-safe characters (32 random
/// bytes). Stored as its SHA-256 hash only.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshSecret(String);

impl RefreshSecret {
    pub const PREFIX: &'static str = "pgr_";
    /// How long one refresh token may be used (each use hands out a new one).
    pub const LIFETIME: Duration = Duration::days(7);

    pub fn from_bytes(bytes: &SecretBytes) -> Self {
        Self(format!("{}{}", Self::PREFIX, URL_SAFE_NO_PAD.encode(bytes)))
    }
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        let body = s
            .strip_prefix(Self::PREFIX)
            .ok_or(CredentialError::Malformed("refresh token"))?;
        if body.len() != 43 || URL_SAFE_NO_PAD.decode(body).is_err() {
            return Err(CredentialError::Malformed("refresh token"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn hash(&self) -> TokenHash {
        TokenHash::from_stored(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshSecret(…)")
    }
}

/// A login session: the family of refresh tokens handed out since one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    /// However often it is refreshed, a session ends this long after the login.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub address: Option<String>,
}

impl Session {
    pub const MAX_LIFETIME: Duration = Duration::days(30);

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// One refresh token of a session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub hash: TokenHash,
    pub session_id: Uuid,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl RefreshRecord {
    /// A refresh token issued at `now`; it never outlives its session.
    pub fn new(secret: &RefreshSecret, session: &Session, now: OffsetDateTime) -> Self {
        Self::of_hash(secret.hash(), session, now)
    }

    /// The same, from the token's hash (what a store sees).
    pub fn of_hash(hash: TokenHash, session: &Session, now: OffsetDateTime) -> Self {
        Self {
            hash,
            session_id: session.id,
            issued_at: now,
            expires_at: (now + RefreshSecret::LIFETIME).min(session.expires_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    #[test]
    fn user_names_use_a_conservative_alphabet() {
        for ok in ["admin", "jane.doe@example.com", "ops_1", "a"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "with space",
            "é",
            "a/b",
            &"x".repeat(65),
            "<script>",
        ] {
            assert_eq!(Username::parse(bad), Err(UserError::InvalidName), "{bad}");
        }
    }

    #[test]
    fn passwords_are_checked_for_length_and_the_user_name() {
        let u = name("alice");
        assert_eq!(
            check_new_password(&u, "short"),
            Err(UserError::PasswordTooShort)
        );
        assert_eq!(
            check_new_password(&u, &"x".repeat(72)),
            Err(UserError::PasswordTooLong)
        );
        assert_eq!(
            check_new_password(&u, "my-ALICE-password"),
            Err(UserError::PasswordContainsName)
        );
        assert!(check_new_password(&u, "correct horse battery").is_ok());
        // Twelve characters, even when they take more bytes.
        assert!(check_new_password(&u, "ééééééééééé").is_err());
        assert!(check_new_password(&u, "éééééééééééé").is_ok());
    }

    /// Regression guard for issue 11 (finding 7): `ADMIN` could be created beside `admin`.
    #[test]
    fn user_names_are_normalised_to_lower_case_and_passwords_hold_no_control_characters() {
        assert_eq!(name("Admin.Ops@Example"), name("admin.ops@example"));
        assert_eq!(name("ADMIN").as_str(), "admin");
        assert_eq!(
            check_new_password(&name("bob"), "a-long-enough\0password"),
            Err(UserError::PasswordControlCharacters)
        );
        assert_eq!(
            check_new_password(&name("bob"), "a-long-enough\npassword"),
            Err(UserError::PasswordControlCharacters)
        );
    }

    #[test]
    fn generated_passwords_meet_the_rules() {
        let p = generated_password(&[7; 20]);
        assert_eq!(p.len(), 27);
        assert!(check_new_password(&name("admin"), &p).is_ok());
    }

    #[test]
    fn access_claims_check_audience_issuer_and_expiry() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let c = AccessClaims::new(Uuid::nil(), Uuid::nil(), Uuid::nil(), now);
        assert!(c.validate(now).is_ok());
        assert_eq!(
            c.validate(now + AccessClaims::LIFETIME),
            Err(CredentialError::Expired)
        );
        let mut other = c.clone();
        other.registered.aud = crate::credentials::CollectorClaims::AUDIENCE.into();
        assert_eq!(other.validate(now), Err(CredentialError::WrongAudience));
        // Regression guard for issue 11 (finding 7): a token issued a day ahead was accepted.
        let ahead = AccessClaims::new(
            Uuid::nil(),
            Uuid::nil(),
            Uuid::nil(),
            now + Duration::days(1),
        );
        assert_eq!(ahead.validate(now), Err(CredentialError::IssuedInFuture));
        let skewed = AccessClaims::new(
            Uuid::nil(),
            Uuid::nil(),
            Uuid::nil(),
            now + Duration::seconds(30),
        );
        assert!(skewed.validate(now).is_ok(), "a little clock skew is fine");
    }

    #[test]
    fn refresh_secrets_round_trip_and_hide_themselves() {
        let s = RefreshSecret::from_bytes(&[1; 32]);
        assert_eq!(RefreshSecret::parse(s.expose()).unwrap(), s);
        assert!(RefreshSecret::parse("pgr_short").is_err());
        assert!(RefreshSecret::parse(&s.expose().replace("pgr_", "pga_")).is_err());
        assert!(!format!("{s:?}").contains(&s.expose()[4..]));
        assert_ne!(s.hash(), RefreshSecret::from_bytes(&[2; 32]).hash());
    }

    #[test]
    fn a_refresh_token_never_outlives_its_session() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let session = Session {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            created_at: now,
            expires_at: now + Duration::days(1),
            revoked_at: None,
            address: None,
        };
        let r = RefreshRecord::new(&RefreshSecret::from_bytes(&[1; 32]), &session, now);
        assert_eq!(r.expires_at, session.expires_at);
        assert!(session.is_live(now) && !session.is_live(session.expires_at));
    }
}
