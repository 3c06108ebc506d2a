//! Credentials: certificate fingerprints, registration tokens, API tokens and the claims of a
//! collector's short-lived token.
//!
//! Registration and API tokens are 256-bit random secrets with a readable prefix. The server
//! stores only their SHA-256 hash: with that much entropy a slow password hash buys nothing,
//! and a constant-time lookup by hash needs no per-token salt.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::collector::CollectorId;

/// SHA-256 of a certificate's DER encoding, lower-case hex without separators.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(der)))
    }

    /// Accepts `AB:CD:…` or `abcd…` forms.
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        let cleaned: String = s
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if cleaned.len() != 64 || !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CredentialError::Malformed("fingerprint"));
        }
        Ok(Self(cleaned))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the {0} is malformed")]
    Malformed(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token has no uses left")]
    UsedUp,
    #[error("the token was issued for another audience")]
    WrongAudience,
    #[error("the token claims to be issued in the future")]
    IssuedInFuture,
}

/// SHA-256 of a secret token, lower-case hex. The only form in which tokens are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(secret: &str) -> Self {
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but there is no reason to print it either.
        f.write_str("TokenHash(..)")
    }
}

/// The bytes a secret is made from. Randomness comes from the caller (an id source port).
pub type SecretBytes = [u8; 32];

fn encode_secret(bytes: &SecretBytes) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn is_secret_part(s: &str) -> bool {
    s.len() == 43
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A registration token as handed to an operator: `pgar_` + 43 base64url characters.
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationSecret(String);

impl RegistrationSecret {
    pub const PREFIX: &'static str = "pgar_";

    pub fn from_bytes(bytes: &SecretBytes) -> Self {
        Self(format!("{}{}", Self::PREFIX, encode_secret(bytes)))
    }
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        match s.strip_prefix(Self::PREFIX) {
            Some(rest) if is_secret_part(rest) => Ok(Self(s.to_owned())),
            _ => Err(CredentialError::Malformed("registration token")),
        }
    }
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
    /// The bare secret, for showing once to the operator who created it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RegistrationSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationSecret(..)")
    }
}

/// An API token: `pga_` + an 8-character public id + `_` + 43 base64url characters.
/// The public id is what listings show; the rest is never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    pub const PREFIX: &'static str = "pga_";

    /// `public` is at least 6 random bytes; 8 base64url characters of it become the id.
    pub fn from_bytes(public: &[u8; 6], secret: &SecretBytes) -> Self {
        Self(format!(
            "{}{}_{}",
            Self::PREFIX,
            URL_SAFE_NO_PAD.encode(public),
            encode_secret(secret)
        ))
    }
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        let malformed = CredentialError::Malformed("API token");
        let rest = s.strip_prefix(Self::PREFIX).ok_or(malformed.clone())?;
        let (public, secret) = rest.split_at_checked(8).ok_or(malformed.clone())?;
        let secret = secret.strip_prefix('_').ok_or(malformed.clone())?;
        let public_ok = public
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !public_ok || !is_secret_part(secret) {
            return Err(malformed);
        }
        Ok(Self(s.to_owned()))
    }
    /// The public part shown in listings (`pga_XXXXXXXX`).
    pub fn prefix(&self) -> &str {
        &self.0[..Self::PREFIX.len() + 8]
    }
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokenSecret({}..)", self.prefix())
    }
}

/// How many times a registration token may still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses(u32);

impl Uses {
    pub const MAX: u32 = 10_000;
    pub fn new(n: u32) -> Result<Self, CredentialError> {
        if n == 0 || n > Self::MAX {
            return Err(CredentialError::Malformed("number of uses"));
        }
        Ok(Self(n))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A registration token as stored: its hash, uses left and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    pub id: Uuid,
    pub hash: TokenHash,
    pub uses_left: u32,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

impl RegistrationToken {
    /// Whether this token admits one more registration at `now`.
    pub fn check_usable(&self, now: OffsetDateTime) -> Result<(), CredentialError> {
        if now >= self.expires_at {
            return Err(CredentialError::Expired);
        }
        if self.uses_left == 0 {
            return Err(CredentialError::UsedUp);
        }
        Ok(())
    }
}

/// An API token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// What the token may do; never more than its creator could.
    pub role: crate::access::Role,
    /// The user it was made for (a personal token), or none (a service token).
    pub owner: Option<Uuid>,
    pub prefix: String,
    pub hash: TokenHash,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiToken {
    pub fn check_usable(&self, now: OffsetDateTime) -> Result<(), CredentialError> {
        if self.revoked_at.is_some() {
            return Err(CredentialError::Expired);
        }
        match self.expires_at {
            Some(exp) if now >= exp => Err(CredentialError::Expired),
            _ => Ok(()),
        }
    }
}

/// The claims every token of ours carries besides its subject (RFC 7519's registered
/// claims): our issuer, an audience telling collector tokens and people's tokens apart, a
/// unique id, and when it was issued and expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    pub aud: String,
    pub iss: String,
    pub jti: Uuid,
    /// Whole seconds since the epoch (other verifiers reject fractional values).
    pub iat: i64,
    pub exp: i64,
}

impl RegisteredClaims {
    /// Who issues every token: this server.
    pub const ISSUER: &'static str = "pganalytics-server";

    /// Claims for a token for `audience`, issued at `now` and living `lifetime`.
    pub fn new(audience: &str, lifetime: Duration, jti: Uuid, now: OffsetDateTime) -> Self {
        let iat = now.unix_timestamp();
        Self {
            aud: audience.to_owned(),
            iss: Self::ISSUER.to_owned(),
            jti,
            iat,
            exp: iat + lifetime.whole_seconds(),
        }
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// How far ahead of `now` an `iat` may be: the clocks of several servers behind one load
    /// balancer differ a little, never by minutes.
    pub const CLOCK_SKEW: Duration = Duration::seconds(60);

    /// The checks every token of ours gets besides its signature: our issuer, the expected
    /// audience, issued not after `now` (give or take the skew), not expired at `now`.
    pub fn validate(&self, audience: &str, now: OffsetDateTime) -> Result<(), CredentialError> {
        if self.aud != audience || self.iss != Self::ISSUER {
            return Err(CredentialError::WrongAudience);
        }
        if self.iat > (now + Self::CLOCK_SKEW).unix_timestamp() {
            return Err(CredentialError::IssuedInFuture);
        }
        if now.unix_timestamp() >= self.exp {
            return Err(CredentialError::Expired);
        }
        Ok(())
    }
}

/// The claims of one kind of token: its audience, and the registered claims it carries.
pub trait Claims {
    const AUDIENCE: &'static str;
    fn registered(&self) -> &RegisteredClaims;

    fn expires_at(&self) -> OffsetDateTime {
        self.registered().expires_at()
    }

    /// Checks audience, issuer and expiry at `now` (the signature is the signer's business).
    fn validate(&self, now: OffsetDateTime) -> Result<(), CredentialError> {
        self.registered().validate(Self::AUDIENCE, now)
    }
}

/// Claims of a collector's short-lived access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorClaims {
    pub sub: CollectorId,
    #[serde(flatten)]
    pub registered: RegisteredClaims,
}

impl CollectorClaims {
    pub const LIFETIME: Duration = Duration::minutes(15);

    pub fn new(sub: CollectorId, jti: Uuid, now: OffsetDateTime) -> Self {
        Self {
            sub,
            registered: RegisteredClaims::new(Self::AUDIENCE, Self::LIFETIME, jti, now),
        }
    }
}

impl Claims for CollectorClaims {
    const AUDIENCE: &'static str = "pganalytics-collector";
    fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }
}

/// Whether a certificate valid from `not_before` to `not_after` should be renewed at
/// `now`: when less than a third of its life is left (30 days of a 90-day certificate), early
/// enough that a renewal failing for a while never lets it expire.
pub fn renewal_due(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    not_after - now < (not_after - not_before) / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_in_the_last_third_of_a_certificates_life() {
        let from = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let to = from + time::Duration::days(90);
        assert!(!renewal_due(from, to, from + time::Duration::days(59)));
        assert!(renewal_due(from, to, from + time::Duration::days(61)));
        assert!(renewal_due(from, to, to + time::Duration::days(1)));
    }

    #[test]
    fn registration_secret_round_trips_and_hides_itself_in_debug() {
        let s = RegistrationSecret::from_bytes(&[7; 32]);
        assert!(s.expose().starts_with("pgar_"));
        assert_eq!(RegistrationSecret::parse(s.expose()).unwrap(), s);
        assert!(!format!("{s:?}").contains(&s.expose()[5..]));
        assert_eq!(
            s.hash(),
            RegistrationSecret::parse(s.expose()).unwrap().hash()
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in [
            "",
            "pgar_",
            "pgar_short",
            "xxxx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(RegistrationSecret::parse(bad).is_err(), "{bad}");
        }
        assert!(ApiTokenSecret::parse("pga_abc").is_err());
    }

    #[test]
    fn api_token_lists_by_prefix_and_debug_shows_only_the_prefix() {
        let t = ApiTokenSecret::from_bytes(&[1; 6], &[2; 32]);
        assert_eq!(ApiTokenSecret::parse(t.expose()).unwrap(), t);
        assert_eq!(t.prefix().len(), 12);
        let dbg = format!("{t:?}");
        assert!(dbg.contains(t.prefix()) && !dbg.contains(&t.expose()[13..]));
    }

    #[test]
    fn fingerprints_accept_colon_form() {
        let f = Fingerprint::of_der(b"abc");
        let colon: Vec<String> = f
            .as_str()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8(c.to_vec()).unwrap().to_uppercase())
            .collect();
        assert_eq!(Fingerprint::parse(&colon.join(":")).unwrap(), f);
        assert!(Fingerprint::parse("zz").is_err());
    }

    #[test]
    fn registration_token_expires_and_runs_out() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let mut t = RegistrationToken {
            id: Uuid::nil(),
            hash: RegistrationSecret::from_bytes(&[0; 32]).hash(),
            uses_left: 1,
            expires_at: now + Duration::hours(1),
            created_at: now,
        };
        assert!(t.check_usable(now).is_ok());
        assert_eq!(
            t.check_usable(now + Duration::hours(1)),
            Err(CredentialError::Expired)
        );
        t.uses_left = 0;
        assert_eq!(t.check_usable(now), Err(CredentialError::UsedUp));
    }

    #[test]
    fn collector_claims_expire_after_fifteen_minutes_and_check_audience() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let c = CollectorClaims::new(CollectorId::from_uuid(Uuid::nil()), Uuid::nil(), now);
        assert!(c.validate(now + Duration::minutes(14)).is_ok());
        assert_eq!(
            c.validate(now + Duration::minutes(15)),
            Err(CredentialError::Expired)
        );
        let mut other = c.clone();
        other.registered.aud = "x".into();
        assert_eq!(other.validate(now), Err(CredentialError::WrongAudience));
    }
}
