use pganalytics_domain::audit::{Actor, ActorKind, AuditContext, Origin};
use pganalytics_domain::collector::{
    Collector, CollectorId, CollectorName, CollectorStatus, Hostname, NameError,
};
use pganalytics_domain::credentials::{CredentialError, RegistrationSecret};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use crate::crypto::{CertificateAuthority, PkiError};
use crate::env::{Clock, IdSource};
use crate::store::{CollectorStore, EnrollError, RegistrationTokenStore};
use crate::usecases::auth::{CollectorToken, issue_token};
use crate::{StoreError, crypto::TokenSigner};

/// What an agent sends to enrol. The CSR proves it holds a private key that never leaves it.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub registration_token: SecretString,
    pub name: String,
    pub hostname: String,
    pub csr_pem: String,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub collector_id: CollectorId,
    pub certificate_pem: String,
    pub ca_certificate_pem: String,
    pub token: CollectorToken,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    InvalidInput(#[from] NameError),
    #[error("the registration token is invalid")]
    InvalidToken,
    #[error("the registration token {0}")]
    TokenRejected(CredentialError),
    #[error(transparent)]
    InvalidCsr(PkiError),
    #[error("an active collector named {0:?} already exists")]
    NameTaken(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("the collector token could not be issued")]
    Token(#[source] crate::crypto::TokenError),
    #[error("the certificate authority failed")]
    Pki(#[source] PkiError),
}

pub struct RegisterCollector {
    pub tokens: Arc<dyn RegistrationTokenStore>,
    pub collectors: Arc<dyn CollectorStore>,
    pub ca: Arc<dyn CertificateAuthority>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl RegisterCollector {
    pub async fn execute(
        &self,
        req: RegisterRequest,
        origin: Origin,
    ) -> Result<Registration, RegisterError> {
        let now = self.clock.now();
        let secret = RegistrationSecret::parse(req.registration_token.expose_secret())
            .map_err(|_| RegisterError::InvalidToken)?;
        let name = CollectorName::parse(&req.name)?;
        let hostname = Hostname::parse(&req.hostname)?;
        // Check the token before doing any signing work for an unauthenticated caller; the
        // authoritative check-and-consume happens atomically in `enroll` below.
        let token = match self.tokens.find_registration_token(&secret.hash()).await {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return Err(RegisterError::InvalidToken),
            Err(e) => return Err(RegisterError::Store(e)),
        };
        token
            .check_usable(now)
            .map_err(RegisterError::TokenRejected)?;

        let id = CollectorId::from_uuid(self.ids.uuid());
        let issued = self
            .ca
            .sign_collector_csr(&req.csr_pem, id, now)
            .map_err(|e| match e {
                PkiError::InvalidCsr(_) => RegisterError::InvalidCsr(e),
                PkiError::Internal(_) => RegisterError::Pki(e),
            })?;
        let collector = Collector {
            id,
            name: name.clone(),
            hostname,
            status: CollectorStatus::Active,
            certificate: issued.info,
            registered_at: now,
            last_seen: None,
            config_version: 1,
            agent_version: None,
        };
        let ctx = AuditContext {
            actor: Actor {
                kind: ActorKind::RegistrationToken,
                id: Some(token.id.to_string()),
                name: None,
                role: None,
            },
            origin,
        };
        let audit = ctx
            .entry("collector.register", Some(format!("collector:{id}")), now)
            .detail("name", name.as_str())
            .detail("hostname", collector.hostname.as_str())
            .detail("certificate_serial", &collector.certificate.serial);
        self.collectors
            .enroll(&secret.hash(), &collector, now, &audit)
            .await
            .map_err(|e| match e {
                EnrollError::UnknownToken => RegisterError::InvalidToken,
                EnrollError::TokenRejected(c) => RegisterError::TokenRejected(c),
                EnrollError::Store(StoreError::Conflict { .. }) => {
                    RegisterError::NameTaken(name.as_str().to_owned())
                }
                EnrollError::Store(s) => RegisterError::Store(s),
            })?;
        let token = issue_token(self.signer.as_ref(), self.ids.as_ref(), id, now)
            .map_err(RegisterError::Token)?;
        Ok(Registration {
            collector_id: id,
            certificate_pem: issued.pem,
            ca_certificate_pem: self.ca.ca_certificate_pem(),
            token,
        })
    }
}

crate::usecases::auth::opaque_debug!(RegisterCollector);
