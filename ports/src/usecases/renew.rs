//! Certificate renewal: a collector, proving itself with its current certificate (mTLS),
//! sends a CSR for a new key and gets a new certificate; the old one is refused from then on.
//! The current certificate of a collector is public and can be fetched by id, which is how
//! an agent whose renewal answer was lost (a crash) gets the certificate for its new key.

use pganalytics_domain::audit::{Actor, ActorKind, AuditContext, Origin};
use pganalytics_domain::collector::{CertificateInfo, CollectorId};
use pganalytics_domain::credentials::Fingerprint;
use std::sync::Arc;

use crate::StoreError;
use crate::crypto::{CertificateAuthority, PkiError};
use crate::env::Clock;
use crate::store::CollectorStore;
use crate::usecases::auth::{AuthError, AuthenticateCollector, opaque_debug};

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    InvalidCsr(PkiError),
    #[error("the certificate was renewed by another request meanwhile")]
    Superseded,
    #[error("the certificate authority failed")]
    Pki(#[source] PkiError),
    #[error(transparent)]
    Store(StoreError),
}

/// A renewed certificate.
#[derive(Debug, Clone)]
pub struct Renewal {
    pub certificate: CertificateInfo,
    pub ca_certificate_pem: String,
}

pub struct RenewCollectorCertificate {
    pub auth: Arc<AuthenticateCollector>,
    pub collectors: Arc<dyn CollectorStore>,
    pub ca: Arc<dyn CertificateAuthority>,
    pub clock: Arc<dyn Clock>,
}

impl RenewCollectorCertificate {
    pub async fn execute(
        &self,
        id: CollectorId,
        cert: Option<&Fingerprint>,
        csr_pem: &str,
        origin: Origin,
    ) -> Result<Renewal, RenewError> {
        let cert = cert.ok_or(AuthError::MissingCertificate)?;
        let collector = self.auth.certificate_holder(id, cert).await?;
        let issued = self
            .ca
            .sign_collector_csr(csr_pem, collector.id, self.clock.now())
            .map_err(|e| match e {
                PkiError::InvalidCsr(_) => RenewError::InvalidCsr(e),
                PkiError::Internal(_) => RenewError::Pki(e),
            })?;
        let ctx = AuditContext {
            actor: Actor {
                kind: ActorKind::Collector,
                id: Some(collector.id.to_string()),
                name: Some(collector.name.as_str().to_owned()),
                role: None,
            },
            origin,
        };
        let audit = ctx
            .entry(
                "collector.certificate.renew",
                Some(format!("collector:{}", collector.id)),
                self.clock.now(),
            )
            .detail("certificate_serial", &issued.info.serial);
        let renewed = self
            .collectors
            .replace_certificate(collector.id, cert, issued.info, &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => RenewError::Superseded,
                other => RenewError::Store(other),
            })?;
        self.auth.presence.forget(collector.id);
        Ok(Renewal {
            certificate: renewed.certificate,
            ca_certificate_pem: self.ca.ca_certificate_pem(),
        })
    }
}

/// The current certificate of a collector (public: what an agent fetches after a lost
/// renewal answer). Revoked collectors have none.
pub struct CurrentCertificate {
    pub collectors: Arc<dyn CollectorStore>,
}

impl CurrentCertificate {
    pub async fn execute(&self, id: CollectorId) -> Result<CertificateInfo, StoreError> {
        let c = self.collectors.get_collector(id).await?;
        if !c.is_active() || c.certificate.pem.is_empty() {
            return Err(StoreError::NotFound {
                entity: "certificate",
            });
        }
        Ok(c.certificate)
    }
}

opaque_debug!(RenewCollectorCertificate, CurrentCertificate);
