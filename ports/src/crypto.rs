//! The server's certificate authority and token signer.

use pganalytics_domain::collector::{CertificateInfo, CollectorId};
use pganalytics_domain::credentials::CollectorClaims;
use pganalytics_domain::users::{AccessClaims, ConsoleClaims};
use time::OffsetDateTime;

use crate::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The CSR is not PEM, does not parse, or its signature does not verify.
    #[error("the certificate signing request is invalid: {0}")]
    InvalidCsr(String),
    #[error("the certificate authority failed")]
    Internal(#[source] BoxError),
}

/// The server's own TLS certificate and its key, issued by the CA.
#[derive(Clone)]
pub struct ServerIdentity {
    pub certificate_pem: String,
    pub key_pem: secrecy::SecretString,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity").finish_non_exhaustive()
    }
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub pem: String,
    pub info: CertificateInfo,
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait CertificateAuthority: Send + Sync {
    /// Signs a collector's CSR into a client certificate (clientAuth, CN = collector id).
    ///
    /// # Errors
    /// MUST return `InvalidCsr` when the CSR does not parse or its self-signature does not
    /// verify (proof that the requester holds the private key), and never sign it then.
    fn sign_collector_csr(
        &self,
        csr_pem: &str,
        collector: CollectorId,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError>;

    /// The CA certificate in PEM, which agents use to verify the server.
    fn ca_certificate_pem(&self) -> String;

    /// The server's TLS certificate for `names` (DNS names or IP addresses), issued by this
    /// CA: the one issued before while it covers `names` and has more than a third of its
    /// life left, else a new one.
    fn server_identity(
        &self,
        names: &[String],
        now: OffsetDateTime,
    ) -> Result<ServerIdentity, PkiError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued for another audience")]
    WrongAudience,
    #[error("the token could not be signed")]
    Signing,
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenSigner: Send + Sync {
    /// Signs collector claims into a compact JWT.
    fn issue(&self, claims: &CollectorClaims) -> Result<String, TokenError>;

    /// Verifies a compact JWT and returns its claims.
    ///
    /// # Errors
    /// MUST return `BadSignature` for any token not signed by this signer's key with its
    /// algorithm (including `alg: none` and other algorithms), `Expired` when `exp` is not
    /// after `now`, `WrongAudience` for another audience or issuer, `Malformed` otherwise.
    fn verify(&self, token: &str, now: OffsetDateTime) -> Result<CollectorClaims, TokenError>;

    /// Signs a person's access-token claims into a compact JWT.
    fn issue_access(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// Verifies a person's access token, with the same errors as [`verify`](Self::verify).
    fn verify_access(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, TokenError>;

    /// Signs a browser's console-session claims into a compact JWT (the console's cookie).
    fn issue_console(&self, claims: &ConsoleClaims) -> Result<String, TokenError>;

    /// Verifies a console-session token, with the same errors as [`verify`](Self::verify).
    fn verify_console(&self, token: &str, now: OffsetDateTime)
    -> Result<ConsoleClaims, TokenError>;
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// Tampered with, sealed for another purpose, or under a key no longer in the ring.
    #[error("the secret cannot be decrypted: {0}")]
    Undecryptable(String),
    #[error("the secret could not be encrypted")]
    Internal(#[source] BoxError),
}

/// Encryption of the secrets the server stores (webhook signing keys, database credentials).
/// `purpose` is bound to the ciphertext: a value sealed for one purpose does not open for
/// another.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait SecretCipher: Send + Sync {
    fn seal(&self, plaintext: &secrecy::SecretString, purpose: &str)
    -> Result<String, CipherError>;

    /// # Errors
    /// MUST return `Undecryptable` for a tampered value, another purpose or an unknown key.
    fn open(&self, sealed: &str, purpose: &str) -> Result<secrecy::SecretString, CipherError>;

    /// The value sealed again under the current key, or `None` when it already is.
    fn reseal(&self, sealed: &str, purpose: &str) -> Result<Option<String>, CipherError>;

    /// The id of the key new values are sealed under (no secret: for messages).
    fn current_key_id(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Bcrypt reads 72 bytes (with a terminating NUL) at most; a longer password is refused,
    /// never silently cut.
    #[error("a password is at most 71 bytes long")]
    TooLong,
    #[error("the password hasher failed")]
    Internal(#[source] BoxError),
}

/// Password hashing for people's logins. Slow on purpose (bcrypt): implementations MUST run
/// the work off the async workers.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A salted hash of `password`.
    ///
    /// # Errors
    /// MUST return `TooLong` for a password of more than 71 bytes.
    async fn hash(&self, password: secrecy::SecretString) -> Result<String, PasswordError>;

    /// Whether `password` matches `hash`. With `hash = None` (no such user) it MUST spend the
    /// same time as for a real hash and answer false, so timing does not reveal whether a
    /// user exists.
    async fn verify(
        &self,
        password: secrecy::SecretString,
        hash: Option<String>,
    ) -> Result<bool, PasswordError>;
}
