//! Request extractors for the two kinds of caller: collectors (client certificate plus
//! collector token) and people or scripts (access token or API token), and the one place a
//! person's permission is checked: [`authorize`], run by the authorization middleware for
//! every route of the table (before any body is read) and again by [`Allowed`] in handlers.

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use pganalytics_domain::access::{Permission, Principal};
use pganalytics_domain::audit::{AuditContext, Origin};
use pganalytics_domain::collector::Collector;
use pganalytics_domain::credentials::Fingerprint;
use pganalytics_ports::usecases::Credential;
use std::marker::PhantomData;

use crate::app::AppState;
use crate::error::ApiError;
use crate::tls::PeerFingerprint;

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Query-string parameters that look like credentials. They are refused outright: URLs end
/// up in proxy logs, browser history and `Referer` headers.
const CREDENTIAL_PARAMS: [&str; 6] = [
    "token",
    "access_token",
    "api_key",
    "apikey",
    "api-key",
    "key",
];

fn credential_in_query(req: &HttpRequest) -> Option<String> {
    req.query_string().split('&').find_map(|pair| {
        let name = pair
            .split('=')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        CREDENTIAL_PARAMS.contains(&name.as_str()).then_some(name)
    })
}

/// The credential a person or script presented: `Authorization: Bearer …`,
/// `Authorization: ApiKey …` or `X-API-Key: …`.
pub fn credential(req: &HttpRequest) -> Result<Option<Credential>, ApiError> {
    if let Some(name) = credential_in_query(req) {
        return Err(ApiError::bad_request(
            "credentials_in_query_string",
            format!(
                "credentials are never accepted in the URL (`{name}=`): URLs are written to \
                 proxy and server logs and browser history. Send `Authorization: Bearer <token>` \
                 or `X-API-Key: <token>` instead"
            ),
        ));
    }
    if let Some(v) = req.headers().get("x-api-key") {
        let v = v.to_str().unwrap_or_default().trim();
        return Ok(Some(Credential::ApiKey(v.to_owned())));
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim().to_owned();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Some(Credential::Bearer(token)))
    } else if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Some(Credential::ApiKey(token)))
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unsupported_authorization",
            "use `Authorization: Bearer <token>`, `Authorization: ApiKey <token>` or `X-API-Key`",
        ))
    }
}

/// The fingerprint of the verified client certificate on this connection, if any.
/// The answer to an enrolment without a registration token.
pub fn registration_token_required() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "registration_token_required",
        "send the registration token as `Authorization: Bearer <token>`",
    )
}

pub fn peer_fingerprint(req: &HttpRequest) -> Option<Fingerprint> {
    req.conn_data::<PeerFingerprint>().map(|p| p.0.clone())
}

/// The request's id (set by the request-id middleware) and client address.
pub fn origin(req: &HttpRequest) -> Origin {
    Origin {
        address: req.peer_addr().map(|a| a.ip().to_string()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// The id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who made a request, in its extensions, for the access log.
#[derive(Debug, Clone)]
pub struct PrincipalLabel(pub String);

fn state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered at start-up")
}

/// A collector authenticated by both its client certificate and its token.
#[derive(Debug)]
pub struct AuthenticatedCollector(pub Collector);

impl FromRequest for AuthenticatedCollector {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, cert, token) = (state(req), peer_fingerprint(req), bearer(req));
        let req = req.clone();
        Box::pin(async move {
            let c = state
                .auth_collector
                .execute(cert.as_ref(), token.as_deref())
                .await?;
            req.extensions_mut()
                .insert(PrincipalLabel(format!("collector:{}", c.name.as_str())));
            Ok(Self(c))
        })
    }
}

/// A permission an endpoint requires, as a type.
pub trait Requirement {
    const PERMISSION: Permission;
}

/// The permissions, as types for [`Allowed`].
pub mod perm {
    use super::{Permission, Requirement};
    macro_rules! requirements {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Requirement for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }
    requirements!(
        Read,
        AcknowledgeAlerts,
        EditAlertRules,
        ManageUsers,
        ManageApiTokens,
        ManageCollectors,
        ManageRegistrationTokens,
        ManageCollectorConfig,
        ReadAuditLog
    );
}

/// A person or script allowed to do `R`: authenticated (401 otherwise) and granted `R` by
/// the permission table in `domain::access` (403 otherwise; a refused mutation is audited).
#[derive(Debug)]
pub struct Allowed<R> {
    pub principal: Principal,
    /// Who and from where, for the audit entries the use case writes.
    pub ctx: AuditContext,
    _requirement: PhantomData<R>,
}

/// Authenticates the caller of `req` and checks `permission`: 401 without a valid
/// credential, 403 (and a `denied` audit entry for a refused mutation) without the
/// permission. The result is kept in the request, so it runs once per request.
pub async fn authorize(
    req: &HttpRequest,
    permission: Permission,
) -> Result<(Principal, AuditContext), ApiError> {
    let cached = req.extensions().get::<(Principal, AuditContext)>().cloned();
    let (principal, ctx) = match cached {
        Some(p) => p,
        None => {
            let state = state(req);
            let credential = credential(req)?;
            let principal = state.auth_person.execute(credential.as_ref()).await?;
            req.extensions_mut()
                .insert(PrincipalLabel(principal.label()));
            let ctx = AuditContext {
                actor: principal.actor(),
                origin: origin(req),
            };
            req.extensions_mut()
                .insert((principal.clone(), ctx.clone()));
            (principal, ctx)
        }
    };
    if !principal.allows(permission) {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let state = state(req);
            let action = format!(
                "{} {}",
                req.method(),
                req.match_pattern().unwrap_or_default()
            );
            let entry = ctx
                .entry(&action, None, state.clock.now())
                .denied()
                .detail("missing_permission", permission.as_str());
            // Best effort: the refusal stands whether or not it could be recorded.
            let _ = state.audit_store.append_audit(&entry).await;
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the {} role may not do this (it needs the {} permission)",
                principal.role.as_str(),
                permission.as_str()
            ),
        ));
    }
    Ok((principal, ctx))
}

impl<R: Requirement + 'static> FromRequest for Allowed<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (principal, ctx) = authorize(&req, R::PERMISSION).await?;
            Ok(Self {
                principal,
                ctx,
                _requirement: PhantomData,
            })
        })
    }
}
