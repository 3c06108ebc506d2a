//! Collector and people's access tokens: ES256 JWTs signed with josekit, told apart by
//! their audience (`pganalytics-collector`, `pganalytics-api`).
//!
//! The signing key (EC P-256, PKCS#8) is created on first start and kept in the data
//! directory with mode 0600, so tokens survive a restart. Verification pins the algorithm:
//! josekit's verifier rejects any token whose header names another `alg` (including
//! `none` and HS256 made with the public key). josekit does not check `exp` itself, so the
//! claims are checked by the domain ([`Claims::validate`]). `iat`/`exp` are
//! written as whole seconds, which every verifier accepts.

use josekit::JoseError;
use josekit::jws::alg::ecdsa::{EcdsaJwsAlgorithm, EcdsaJwsSigner, EcdsaJwsVerifier};
use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use pganalytics_domain::credentials::{Claims, CollectorClaims, CredentialError};
use pganalytics_domain::users::{AccessClaims, ConsoleClaims};
use pganalytics_ports::crypto::{TokenError, TokenSigner};
use std::fs;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum JwtSetupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token key is unusable: {0}")]
    Key(String),
}

pub struct JoseSigner {
    signer: EcdsaJwsSigner,
    verifier: EcdsaJwsVerifier,
    key_id: String,
}

impl std::fmt::Debug for JoseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoseSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl JoseSigner {
    /// Loads the key at `path`, or creates it there (0600).
    pub fn load_or_create(path: &Path) -> Result<Self, JwtSetupError> {
        let io = |source| JwtSetupError::Io {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            crate::fs::write_atomic(path, &Self::new_key_pem()?, 0o600).map_err(io)?;
        }
        let pem = fs::read(path).map_err(io)?;
        Self::from_pem(&pem)
    }

    /// A new P-256 signing key, as PKCS#8 PEM: for [`from_pem`](Self::from_pem) when the key
    /// lives in memory only (the memory backend; tests that forge tokens with it).
    pub fn new_key_pem() -> Result<Vec<u8>, JwtSetupError> {
        let key = |e: &dyn std::fmt::Display| JwtSetupError::Key(e.to_string());
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(|e| key(&e))?;
        let pkey = PKey::from_ec_key(EcKey::generate(&group).map_err(|e| key(&e))?)
            .map_err(|e| key(&e))?;
        pkey.private_key_to_pem_pkcs8().map_err(|e| key(&e))
    }

    /// From a PKCS#8 PEM P-256 private key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, JwtSetupError> {
        let key = |e: &dyn std::fmt::Display| JwtSetupError::Key(e.to_string());
        let pkey = PKey::private_key_from_pem(pem).map_err(|e| key(&e))?;
        let public_pem = pkey.public_key_to_pem().map_err(|e| key(&e))?;
        let public_der = pkey.public_key_to_der().map_err(|e| key(&e))?;
        let alg: &EcdsaJwsAlgorithm = &ES256;
        let signer = alg.signer_from_pem(pem).map_err(|e| key(&e))?;
        let verifier = alg.verifier_from_pem(&public_pem).map_err(|e| key(&e))?;
        let key_id = pganalytics_domain::credentials::Fingerprint::of_der(&public_der).as_str()
            [..16]
            .to_owned();
        Ok(Self {
            signer,
            verifier,
            key_id,
        })
    }
}

impl JoseSigner {
    fn sign(&self, claims: &impl serde::Serialize) -> Result<String, TokenError> {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(&self.key_id);
        let value = serde_json::to_value(claims).map_err(|_| TokenError::Signing)?;
        let serde_json::Value::Object(map) = value else {
            return Err(TokenError::Signing);
        };
        let payload = JwtPayload::from_map(map).map_err(|_| TokenError::Signing)?;
        jwt::encode_with_signer(&payload, &header, &self.signer).map_err(|_| TokenError::Signing)
    }

    /// The claims of a token this key signed, unchecked (the caller validates them).
    fn open<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
            return Err(TokenError::Malformed);
        }
        let (payload, _header) =
            jwt::decode_with_verifier(token, &self.verifier).map_err(|e| match e {
                JoseError::InvalidSignature(_) | JoseError::UnsupportedSignatureAlgorithm(_) => {
                    TokenError::BadSignature
                }
                // A header naming another algorithm is reported as a format error by josekit;
                // for the caller it is a token we did not sign.
                JoseError::InvalidJwtFormat(_) | JoseError::InvalidJwsFormat(_) => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed,
            })?;
        serde_json::from_value(serde_json::Value::Object(payload.claims_set().clone()))
            .map_err(|_| TokenError::Malformed)
    }
}

impl JoseSigner {
    /// The claims of a token this key signed, checked for its kind's audience and expiry.
    fn verify_claims<T: Claims + serde::de::DeserializeOwned>(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<T, TokenError> {
        let claims: T = self.open(token)?;
        claims.validate(now).map_err(claims_error)?;
        Ok(claims)
    }
}

fn claims_error(e: CredentialError) -> TokenError {
    match e {
        CredentialError::Expired => TokenError::Expired,
        CredentialError::WrongAudience => TokenError::WrongAudience,
        _ => TokenError::Malformed,
    }
}

impl TokenSigner for JoseSigner {
    fn issue(&self, claims: &CollectorClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    fn verify(&self, token: &str, now: OffsetDateTime) -> Result<CollectorClaims, TokenError> {
        self.verify_claims(token, now)
    }

    fn issue_access(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    fn verify_access(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, TokenError> {
        // A collector token has no `sid`: it fails as malformed, or on its audience.
        self.verify_claims(token, now)
    }

    fn issue_console(&self, claims: &ConsoleClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    fn verify_console(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<ConsoleClaims, TokenError> {
        // An access or collector token lacks `csrf`, or fails on its audience.
        self.verify_claims(token, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use pganalytics_domain::collector::CollectorId;
    use time::Duration;
    use uuid::Uuid;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
    }

    fn signer(dir: &Path) -> JoseSigner {
        JoseSigner::load_or_create(&dir.join("jwt.key")).unwrap()
    }

    fn claims(at: OffsetDateTime) -> CollectorClaims {
        CollectorClaims::new(CollectorId::from_uuid(Uuid::new_v4()), Uuid::new_v4(), at)
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let c = claims(now());
        let token = signer(dir.path()).issue(&c).unwrap();
        let reloaded = signer(dir.path());
        assert_eq!(reloaded.verify(&token, now()).unwrap(), c);
        assert_eq!(
            reloaded.verify(&token, now() + Duration::minutes(15)),
            Err(TokenError::Expired)
        );
        // Whole seconds on the wire.
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert!(v["exp"].is_i64() && v["iat"].is_i64(), "{v}");
    }

    #[test]
    fn forged_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ours = signer(dir.path());
        let other_dir = tempfile::tempdir().unwrap();
        let theirs = signer(other_dir.path());
        let c = claims(now());

        assert_eq!(
            ours.verify(&theirs.issue(&c).unwrap(), now()),
            Err(TokenError::BadSignature)
        );

        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let none = format!(
            "{}.{body}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(ours.verify(&none, now()).is_err());

        // Payload swapped under a valid signature.
        let token = ours.issue(&c).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let other = claims(now());
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap()),
            parts[2]
        );
        assert_eq!(ours.verify(&tampered, now()), Err(TokenError::BadSignature));

        let mut wrong_aud = c.clone();
        wrong_aud.registered.aud = "someone-else".into();
        assert_eq!(
            ours.verify(&ours.issue(&wrong_aud).unwrap(), now()),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(ours.verify("x.y", now()), Err(TokenError::Malformed));
    }

    #[test]
    fn console_and_access_tokens_are_not_interchangeable() {
        use pganalytics_domain::users::{AccessClaims, Session};
        let dir = tempfile::tempdir().unwrap();
        let s = signer(dir.path());
        let session = Session {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            created_at: now(),
            expires_at: now() + Duration::days(30),
            revoked_at: None,
            address: None,
        };
        let console = ConsoleClaims::new(&session, &[7; 32], Uuid::new_v4(), now());
        let token = s.issue_console(&console).unwrap();
        assert_eq!(s.verify_console(&token, now()).unwrap(), console);
        assert!(s.verify_access(&token, now()).is_err());
        assert_eq!(
            s.verify_console(&token, now() + ConsoleClaims::LIFETIME),
            Err(TokenError::Expired)
        );
        let access = AccessClaims::new(session.user_id, session.id, Uuid::new_v4(), now());
        assert!(
            s.verify_console(&s.issue_access(&access).unwrap(), now())
                .is_err()
        );
        // A session ending sooner ends its console token with it.
        let short = Session {
            expires_at: now() + Duration::hours(1),
            ..session
        };
        let c = ConsoleClaims::new(&short, &[7; 32], Uuid::new_v4(), now());
        assert_eq!(c.registered.expires_at(), short.expires_at);
        assert!(c.csrf_matches(&c.csrf.clone()));
        assert!(!c.csrf_matches("") && !c.csrf_matches("x"));
    }
}
