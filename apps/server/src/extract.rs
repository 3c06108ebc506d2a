//! Who is calling, for a handler: what the authorization middleware let through (the
//! [`Authorized`] it keeps in the request), as the extractor that fits the route's access.
//! A handler whose extractor does not fit its route's access answers 500: a wiring mistake
//! the route walk of the API tests catches.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use pganalytics_domain::access::Principal;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::collector::Collector;
use pganalytics_domain::credentials::Fingerprint;
use pganalytics_ports::usecases::Authorized;
use secrecy::SecretString;
use std::future::{Ready, ready};

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
#[error("{0}: the route's access and its handler's extractor disagree")]
struct Miswired(&'static str);

fn authorized<T>(
    req: &HttpRequest,
    what: &'static str,
    pick: impl FnOnce(&Authorized) -> Option<T>,
) -> Ready<Result<T, ApiError>> {
    let found = req.extensions().get::<Authorized>().and_then(pick);
    ready(found.ok_or_else(|| ApiError::internal(&Miswired(what))))
}

/// `impl FromRequest for $t`: what the middleware let through, when it has the `$pat` shape.
macro_rules! from_authorized {
    ($t:ident, $what:literal, $pat:pat => $value:expr) => {
        impl FromRequest for $t {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                authorized(req, $what, |a| match a {
                    $pat => Some($value),
                    _ => None,
                })
            }
        }
    };
}

/// A person or script the route's permission let through.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    /// Who and from where, for the audit entries the use case writes.
    pub ctx: AuditContext,
}

from_authorized!(Caller, "caller", Authorized::Person { principal, audit } => Caller {
    principal: principal.clone(),
    ctx: audit.clone(),
});

/// A collector authenticated by both its client certificate and its token.
#[derive(Debug)]
pub struct AuthenticatedCollector(pub Collector);

from_authorized!(AuthenticatedCollector, "collector",
    Authorized::Collector(c) => AuthenticatedCollector(c.clone()));

/// The registration token an enrolment presented (the enrolment checks it).
#[derive(Debug)]
pub struct EnrolmentToken(pub SecretString);

from_authorized!(EnrolmentToken, "registration token",
    Authorized::Enrolment { token } => EnrolmentToken(token.clone()));

/// The client certificate of the connection (the use case checks whose it is).
#[derive(Debug)]
pub struct CertificateHolder(pub Fingerprint);

from_authorized!(CertificateHolder, "client certificate",
    Authorized::CertificateHolder(f) => CertificateHolder(f.clone()));
