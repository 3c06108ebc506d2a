//! Authorization: the one decision, for every operation, of whether its caller may go on.
//! Given what the caller presented and what the operation requires ([`Access`]), it returns
//! who the caller is, or a typed refusal; a refused change is recorded in the audit log here,
//! so the HTTP layer only maps requests to it and refusals to statuses.

use pganalytics_domain::access::{Access, Permission, Principal, Role};
use pganalytics_domain::audit::{AuditContext, Origin};
use pganalytics_domain::collector::Collector;
use pganalytics_domain::credentials::Fingerprint;
use secrecy::SecretString;
use std::sync::Arc;

use crate::env::Clock;
use crate::store::AuditStore;
use crate::usecases::auth::{AuthError, AuthenticateCollector, opaque_debug};
use crate::usecases::sessions::{AuthenticatePerson, Credential, PersonAuthError};

/// What a caller presented with a request.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    /// The bearer token, API key, registration token or collector token.
    pub credential: Option<Credential>,
    /// The fingerprint of the verified client certificate of the connection.
    pub client_certificate: Option<Fingerprint>,
}

/// The operation being attempted, as the audit log names a refusal of it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub access: Access,
    /// `METHOD /route/pattern`, e.g. `POST /api/v1/users`.
    pub action: String,
    /// Whether it would change something: a change refused for want of a permission is
    /// audited; a refused read is not (it would flood the log).
    pub changes: bool,
    pub origin: Origin,
}

/// Who was let through, by what they presented.
#[derive(Debug)]
pub enum Authorized {
    /// A public operation.
    Anyone,
    /// An enrolment, with the registration token presented (the enrolment checks it).
    Enrolment { token: SecretString },
    /// A collector proven by its certificate and its token.
    Collector(Collector),
    /// The holder of a client certificate issued by our CA (the operation checks whose).
    CertificateHolder(Fingerprint),
    /// A person or a script, and who and from where for the audit entries of what it does.
    Person {
        principal: Principal,
        audit: AuditContext,
    },
}

/// A person signed in to the console, let through for one request.
#[derive(Debug)]
pub struct ConsoleCaller {
    pub principal: Principal,
    pub audit: AuditContext,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
    /// When the browser's session ends.
    pub expires_at: time::OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum Denied {
    #[error(
        "the form's CSRF token is missing or not this session's: reload the page and try again"
    )]
    Csrf,
    #[error("send the registration token as `Authorization: Bearer <token>`")]
    RegistrationTokenRequired,
    #[error(transparent)]
    Collector(#[from] AuthError),
    #[error(transparent)]
    Person(#[from] PersonAuthError),
    #[error(
        "the {} role may not do this (it needs the {} permission)",
        .role.as_str(),
        .permission.as_str()
    )]
    Forbidden { role: Role, permission: Permission },
}

pub struct Authorize {
    pub people: AuthenticatePerson,
    pub collectors: Arc<AuthenticateCollector>,
    pub audit: Arc<dyn AuditStore>,
    pub clock: Arc<dyn Clock>,
}

fn bearer(presented: &Presented) -> Option<&str> {
    match &presented.credential {
        Some(Credential::Bearer(t)) => Some(t),
        _ => None,
    }
}

impl Authorize {
    pub async fn execute(
        &self,
        attempt: Attempt,
        presented: Presented,
    ) -> Result<Authorized, Denied> {
        match attempt.access {
            Access::Public => Ok(Authorized::Anyone),
            Access::RegistrationToken => bearer(&presented)
                .map(|t| Authorized::Enrolment {
                    token: SecretString::from(t.to_owned()),
                })
                .ok_or(Denied::RegistrationTokenRequired),
            Access::Collector => Ok(Authorized::Collector(
                self.collectors
                    .execute(presented.client_certificate.as_ref(), bearer(&presented))
                    .await?,
            )),
            Access::CollectorCertificate => presented
                .client_certificate
                .map(Authorized::CertificateHolder)
                .ok_or(Denied::Collector(AuthError::MissingCertificate)),
            Access::Person(permission) => self.person(attempt, presented, permission).await,
        }
    }

    async fn person(
        &self,
        attempt: Attempt,
        presented: Presented,
        permission: Permission,
    ) -> Result<Authorized, Denied> {
        let principal = self.people.execute(presented.credential.as_ref()).await?;
        let (principal, audit) = self.permit(attempt, principal, permission).await?;
        Ok(Authorized::Person { principal, audit })
    }

    /// A console request: the browser's session cookie instead of a credential header, and
    /// for a change (`attempt.changes`) the form's CSRF token, which must be the session's.
    /// A refused token is audited like a refused permission.
    pub async fn console(
        &self,
        attempt: Attempt,
        permission: Permission,
        cookie: Option<&str>,
        csrf: Option<&str>,
    ) -> Result<ConsoleCaller, Denied> {
        let (principal, claims) = self.people.console(cookie).await?;
        if attempt.changes && !csrf.is_some_and(|t| claims.csrf_matches(t)) {
            let entry = AuditContext {
                actor: principal.actor(),
                origin: attempt.origin,
            }
            .entry(&attempt.action, None, self.clock.now())
            .denied()
            .detail("reason", "csrf");
            let _ = self.audit.append_audit(&entry).await;
            return Err(Denied::Csrf);
        }
        let (principal, audit) = self.permit(attempt, principal, permission).await?;
        Ok(ConsoleCaller {
            principal,
            audit,
            expires_at: claims.registered.expires_at(),
            csrf: claims.csrf,
        })
    }

    /// `principal` if its role has `permission`; a refused change is audited.
    async fn permit(
        &self,
        attempt: Attempt,
        principal: Principal,
        permission: Permission,
    ) -> Result<(Principal, AuditContext), Denied> {
        let audit = AuditContext {
            actor: principal.actor(),
            origin: attempt.origin,
        };
        if principal.allows(permission) {
            return Ok((principal, audit));
        }
        if attempt.changes {
            let entry = audit
                .entry(&attempt.action, None, self.clock.now())
                .denied()
                .detail("missing_permission", permission.as_str());
            // Best effort: the refusal stands whether or not it could be recorded.
            let _ = self.audit.append_audit(&entry).await;
        }
        Err(Denied::Forbidden {
            role: principal.role,
            permission,
        })
    }
}

opaque_debug!(Authorize);
