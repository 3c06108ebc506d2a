//! Routes, one file per endpoint action, grouped by resource.

mod api_tokens;
mod audit_log;
mod auth;
mod collectors;
mod config;
mod docs;
mod health;
mod metrics;
mod registration_tokens;
mod selfmetrics;
mod servers;
mod users;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use pganalytics_domain::access::Permission;
use slog::info;
use std::time::Instant;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{PrincipalLabel, RequestId};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, refresh, a collector's public certificate).
    Public,
    /// A registration token (agent enrolment).
    RegistrationToken,
    /// A collector: client certificate, plus its token where it has one.
    Collector,
    /// A person or script granted this permission.
    Person(Permission),
}

impl Access {
    /// Whether the route spends the collectors' rate budget rather than the people's.
    pub fn is_ingest(self) -> bool {
        matches!(self, Self::Collector | Self::RegistrationToken)
    }
}

/// One route of the API: the table the router is built from, and that the permission
/// matrix test, the rate limiter and the API docs read.
#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    register: fn(&mut web::ServiceConfig),
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({:?})", self.method, self.path, self.access)
    }
}

macro_rules! routes {
    ($( $method:ident $path:literal $access:expr => $($handler:ident)::+; )*) => {
        /// Every route, in the order they are matched.
        pub const ROUTES: &[Route] = &[$(
            Route {
                method: stringify!($method),
                path: $path,
                access: $access,
                register: |cfg| {
                    cfg.route($path, web::method(Method::$method).to($($handler)::+));
                },
            },
        )*];

        /// The operations of every route, from the `#[utoipa::path]` of each handler
        /// (`crate::openapi` completes them from the table and serves the document).
        #[derive(Debug, utoipa::OpenApi)]
        #[openapi(paths($($($handler)::+),*))]
        pub struct Operations;
    };
}

use Access::{Collector, Person, Public, RegistrationToken};
use Permission as P;

routes! {
    GET "/api/v1/health" Public => health::get;
    POST "/api/v1/auth/login" Public => auth::login::post;
    POST "/api/v1/auth/refresh" Public => auth::refresh::post;
    POST "/api/v1/auth/logout" Person(P::Read) => auth::logout::post;
    GET "/api/v1/auth/me" Person(P::Read) => auth::me::get;
    PUT "/api/v1/auth/password" Person(P::Read) => auth::password::put;
    GET "/api/v1/users" Person(P::ManageUsers) => users::list::get;
    POST "/api/v1/users" Person(P::ManageUsers) => users::create::post;
    GET "/api/v1/users/{id}" Person(P::ManageUsers) => users::get::get;
    PATCH "/api/v1/users/{id}" Person(P::ManageUsers) => users::update::patch;
    DELETE "/api/v1/users/{id}" Person(P::ManageUsers) => users::delete::delete;
    PUT "/api/v1/users/{id}/password" Person(P::ManageUsers) => users::password::put;
    GET "/api/v1/api-tokens" Person(P::ManageApiTokens) => api_tokens::list::get;
    POST "/api/v1/api-tokens" Person(P::ManageApiTokens) => api_tokens::create::post;
    DELETE "/api/v1/api-tokens/{id}" Person(P::ManageApiTokens) => api_tokens::revoke::delete;
    POST "/api/v1/registration-tokens" Person(P::ManageRegistrationTokens) => registration_tokens::create::post;
    GET "/api/v1/audit-log" Person(P::ReadAuditLog) => audit_log::list::get;
    POST "/api/v1/collectors/register" RegistrationToken => collectors::register::post;
    GET "/api/v1/collectors" Person(P::Read) => collectors::list::get;
    GET "/api/v1/collectors/{id}" Person(P::Read) => collectors::get::get;
    DELETE "/api/v1/collectors/{id}" Person(P::ManageCollectors) => collectors::revoke::delete;
    POST "/api/v1/collectors/{id}/certificate" Collector => collectors::certificate::post;
    GET "/api/v1/collectors/{id}/certificate" Public => collectors::certificate::get;
    POST "/api/v1/collectors/{id}/token" Collector => collectors::token::post;
    POST "/api/v1/metrics/push" Collector => metrics::push::post;
    GET "/api/v1/config/{collector_id}" Collector => config::get::get;
    PUT "/api/v1/config/{collector_id}" Person(P::ManageCollectorConfig) => config::put::put;
    GET "/api/v1/servers" Person(P::Read) => servers::list::get;
    GET "/api/v1/servers/{id}" Person(P::Read) => servers::get::get;
    GET "/api/v1/servers/{id}/metrics" Person(P::Read) => servers::metrics::get;
    GET "/metrics" Person(P::Read) => selfmetrics::get;
    GET "/api/v1/openapi.json" Public => docs::openapi;
    GET "/swagger" Public => docs::swagger;
    GET "/swagger/{file}" Public => docs::swagger_file;
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for r in ROUTES {
        (r.register)(cfg);
    }
}

/// The route a request matched, by its pattern and method.
pub fn route_of(method: &Method, pattern: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.path == pattern && r.method == method.as_str())
}

/// A UUID from the path; anything else is a 404 for `entity` (no such thing).
pub fn path_uuid(raw: &str, entity: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("{entity} not found"),
        )
    })
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

pub fn json_error(err: JsonPayloadError, _: &HttpRequest) -> Error {
    let e = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        ),
        other => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON for this endpoint: {other}"),
        ),
    };
    e.into()
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> Error {
    ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
}

pub fn path_error(err: PathError, _: &HttpRequest) -> Error {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("invalid path: {err}"),
    )
    .into()
}

/// One log line per request: request id, method, route, status, latency and principal.
/// Never headers, bodies or query strings (they may hold secrets).
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".to_owned());
        let ext = res.request().extensions();
        let principal = ext
            .get::<PrincipalLabel>()
            .map_or_else(|| "anonymous".to_owned(), |p| p.0.clone());
        let request_id = ext
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        drop(ext);
        state.metrics.request(
            &method,
            &route,
            res.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
        info!(state.log, "request handled"; "request_id" => request_id, "method" => method, "route" => route,
              "status" => res.status().as_u16(), "duration_ms" => start.elapsed().as_secs_f64() * 1000.0,
              "principal" => principal);
    }
    Ok(res)
}
