use pganalytics_domain::collector::{Collector, CollectorId};
use pganalytics_domain::credentials::{Claims as _, CollectorClaims, Fingerprint};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::StoreError;
use crate::crypto::{TokenError, TokenSigner};
use crate::env::{Clock, IdSource};
use crate::usecases::presence::CollectorPresence;

/// A signed collector token and when it expires.
#[derive(Clone)]
pub struct CollectorToken {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for CollectorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub(crate) fn issue_token(
    signer: &dyn TokenSigner,
    ids: &dyn IdSource,
    id: CollectorId,
    now: OffsetDateTime,
) -> Result<CollectorToken, TokenError> {
    let claims = CollectorClaims::new(id, ids.uuid(), now);
    Ok(CollectorToken {
        token: signer.issue(&claims)?,
        expires_at: claims.expires_at(),
    })
}

/// Why a caller was not let in. Each maps to 401 or 403 at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a client certificate is required")]
    MissingCertificate,
    #[error("the client certificate does not belong to this collector")]
    CertificateMismatch,
    #[error("a bearer token is required")]
    MissingToken,
    #[error("the token is not valid: {0}")]
    InvalidToken(TokenError),
    #[error("the collector has been revoked")]
    Revoked,
    #[error("the token was issued to another collector")]
    WrongCollector,
    #[error(transparent)]
    Store(StoreError),
}

/// Authenticates a collector by both factors: its client certificate's fingerprint must be
/// the one registered, and its bearer token must be a valid token for the same collector.
pub struct AuthenticateCollector {
    pub presence: Arc<CollectorPresence>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
}

impl AuthenticateCollector {
    pub async fn execute(
        &self,
        cert: Option<&Fingerprint>,
        bearer: Option<&str>,
    ) -> Result<Collector, AuthError> {
        let cert = cert.ok_or(AuthError::MissingCertificate)?;
        let bearer = bearer.ok_or(AuthError::MissingToken)?;
        let claims = self
            .signer
            .verify(bearer, self.clock.now())
            .map_err(AuthError::InvalidToken)?;
        let collector = self.certificate_holder(claims.sub, cert).await?;
        Ok(collector)
    }

    /// The active collector `id` whose registered certificate is `cert`.
    pub async fn certificate_holder(
        &self,
        id: CollectorId,
        cert: &Fingerprint,
    ) -> Result<Collector, AuthError> {
        let mut collector = self.read(id, false).await?;
        // Remembered for a few seconds: what would refuse the push is read again first (a
        // certificate renewed, or a revocation undone, through another server).
        if &collector.certificate.fingerprint != cert || !collector.is_active() {
            collector = self.read(id, true).await?;
        }
        if &collector.certificate.fingerprint != cert {
            return Err(AuthError::CertificateMismatch);
        }
        if !collector.is_active() {
            return Err(AuthError::Revoked);
        }
        Ok(collector)
    }
}

impl AuthenticateCollector {
    async fn read(&self, id: CollectorId, fresh: bool) -> Result<Collector, AuthError> {
        match self.presence.collector(id, fresh).await {
            Ok(c) => Ok(c),
            // A valid signature for an id we do not know: treat it as a certificate mismatch,
            // without telling the caller whether the id exists.
            Err(StoreError::NotFound { .. }) => Err(AuthError::CertificateMismatch),
            Err(e) => Err(AuthError::Store(e)),
        }
    }
}

/// Issues a fresh collector token to a collector that proves itself with its certificate
/// alone (mTLS): what an agent does when its token expired.
pub struct RefreshCollectorToken {
    pub auth: Arc<AuthenticateCollector>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl RefreshCollectorToken {
    pub async fn execute(
        &self,
        id: CollectorId,
        cert: Option<&Fingerprint>,
    ) -> Result<CollectorToken, AuthError> {
        let cert = cert.ok_or(AuthError::MissingCertificate)?;
        let collector = self.auth.certificate_holder(id, cert).await?;
        issue_token(
            self.signer.as_ref(),
            self.ids.as_ref(),
            collector.id,
            self.clock.now(),
        )
        .map_err(AuthError::InvalidToken)
    }
}

macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
opaque_debug!(AuthenticateCollector, RefreshCollectorToken);
pub(crate) use opaque_debug;
