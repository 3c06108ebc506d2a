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

/// A person or script the route's permission let through.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    /// Who and from where, for the audit entries the use case writes.
    pub ctx: AuditContext,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorized(req, "caller", |a| match a {
            Authorized::Person { principal, audit } => Some(Self {
                principal: principal.clone(),
                ctx: audit.clone(),
            }),
            _ => None,
        })
    }
}

/// A collector authenticated by both its client certificate and its token.
#[derive(Debug)]
pub struct AuthenticatedCollector(pub Collector);

impl FromRequest for AuthenticatedCollector {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorized(req, "collector", |a| match a {
            Authorized::Collector(c) => Some(Self(c.clone())),
            _ => None,
        })
    }
}

/// The registration token an enrolment presented (the enrolment checks it).
#[derive(Debug)]
pub struct EnrolmentToken(pub SecretString);

impl FromRequest for EnrolmentToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorized(req, "registration token", |a| match a {
            Authorized::Enrolment { token } => Some(Self(token.clone())),
            _ => None,
        })
    }
}

/// The client certificate of the connection (the use case checks whose it is).
#[derive(Debug)]
pub struct CertificateHolder(pub Fingerprint);

impl FromRequest for CertificateHolder {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorized(req, "client certificate", |a| match a {
            Authorized::CertificateHolder(f) => Some(Self(f.clone())),
            _ => None,
        })
    }
}
