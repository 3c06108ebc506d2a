//! The route table: every operation of the API, its method, path, who may call it
//! ([`Access`]) and its handler. The router is built from it, the authorization and rate
//! limits read it, and the OpenAPI document is completed from it. Handlers never import it.

use actix_web::HttpMessage as _;
use actix_web::dev::{ResourceDef, ServiceRequest};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use pganalytics_domain::access::{Access, Permission};
use std::sync::LazyLock;

use crate::error::ApiError;

use super::{
    alert_rules, alerts, api_tokens, audit_log, auth, collectors, config, docs, health, log_events,
    maintenance_windows, metrics, notification_channels, registration_tokens, retention,
    selfmetrics, servers, silences, statements, users,
};

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

use Access::{Collector, CollectorCertificate, Person, Public, RegistrationToken};
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
    POST "/api/v1/collectors/{id}/certificate" CollectorCertificate => collectors::certificate::post;
    GET "/api/v1/collectors/{id}/certificate" Public => collectors::certificate::get;
    POST "/api/v1/collectors/{id}/token" CollectorCertificate => collectors::token::post;
    POST "/api/v1/metrics/push" Collector => metrics::push::post;
    GET "/api/v1/config/{collector_id}" Collector => config::get::get;
    PUT "/api/v1/config/{collector_id}" Person(P::ManageCollectorConfig) => config::put::put;
    GET "/api/v1/fleet" Person(P::Read) => servers::fleet::get;
    GET "/api/v1/servers" Person(P::Read) => servers::list::get;
    GET "/api/v1/servers/{id}" Person(P::Read) => servers::get::get;
    GET "/api/v1/servers/{id}/metrics" Person(P::Read) => servers::metrics::get;
    GET "/api/v1/servers/{id}/statements" Person(P::Read) => statements::top;
    GET "/api/v1/servers/{id}/statements/{queryid}" Person(P::Read) => statements::detail;
    GET "/api/v1/log-events" Person(P::Read) => log_events::search;
    GET "/api/v1/log-events/counts" Person(P::Read) => log_events::counts;
    GET "/api/v1/retention" Person(P::Read) => retention::list;
    PUT "/api/v1/retention/{family}" Person(P::ManageRetention) => retention::put;
    DELETE "/api/v1/retention/{family}" Person(P::ManageRetention) => retention::delete;
    GET "/api/v1/alert-rules" Person(P::Read) => alert_rules::list::get;
    POST "/api/v1/alert-rules" Person(P::EditAlertRules) => alert_rules::create::post;
    GET "/api/v1/alert-rules/export" Person(P::Read) => alert_rules::export::get;
    POST "/api/v1/alert-rules/import" Person(P::EditAlertRules) => alert_rules::import::post;
    GET "/api/v1/alert-rules/{name}" Person(P::Read) => alert_rules::get::get;
    PUT "/api/v1/alert-rules/{name}" Person(P::EditAlertRules) => alert_rules::change::put;
    DELETE "/api/v1/alert-rules/{name}" Person(P::EditAlertRules) => alert_rules::delete::delete;
    POST "/api/v1/alert-rules/{name}/enable" Person(P::EditAlertRules) => alert_rules::enable::enable;
    POST "/api/v1/alert-rules/{name}/disable" Person(P::EditAlertRules) => alert_rules::enable::disable;
    GET "/api/v1/alerts" Person(P::Read) => alerts::list::get;
    GET "/api/v1/alerts/{fingerprint}" Person(P::Read) => alerts::get::get;
    POST "/api/v1/alerts/{fingerprint}/ack" Person(P::AcknowledgeAlerts) => alerts::ack::post;
    GET "/api/v1/silences" Person(P::Read) => silences::list::get;
    POST "/api/v1/silences" Person(P::AcknowledgeAlerts) => silences::create::post;
    DELETE "/api/v1/silences/{id}" Person(P::AcknowledgeAlerts) => silences::expire::delete;
    GET "/api/v1/maintenance-windows" Person(P::Read) => maintenance_windows::list;
    POST "/api/v1/maintenance-windows" Person(P::AcknowledgeAlerts) => maintenance_windows::create;
    DELETE "/api/v1/maintenance-windows/{id}" Person(P::AcknowledgeAlerts) => maintenance_windows::delete;
    GET "/api/v1/notification-channels" Person(P::ManageNotificationChannels) => notification_channels::manage::list;
    POST "/api/v1/notification-channels" Person(P::ManageNotificationChannels) => notification_channels::manage::create;
    GET "/api/v1/notification-channels/{id}" Person(P::ManageNotificationChannels) => notification_channels::manage::get;
    PUT "/api/v1/notification-channels/{id}" Person(P::ManageNotificationChannels) => notification_channels::manage::replace;
    DELETE "/api/v1/notification-channels/{id}" Person(P::ManageNotificationChannels) => notification_channels::manage::delete;
    POST "/api/v1/notification-channels/{id}/test" Person(P::ManageNotificationChannels) => notification_channels::deliveries::test;
    GET "/api/v1/notification-channels/{id}/deliveries" Person(P::ManageNotificationChannels) => notification_channels::deliveries::list;
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

/// Every route's path as actix matches it, in registration order.
static PATHS: LazyLock<Vec<(ResourceDef, &'static Route)>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|r| (ResourceDef::new(r.path), r))
        .collect()
});

/// What answers a request no route matched: `405` with `Allow` when its path is a route's
/// with other methods (`TRACE`, `PUT` on a read-only resource…), else `404`.
pub async fn unmatched(req: HttpRequest) -> HttpResponse {
    let allowed: Vec<&str> = PATHS
        .iter()
        .filter(|(def, _)| def.is_match(req.path()))
        .map(|(_, route)| route.method)
        .collect();
    if allowed.is_empty() {
        let message = format!("no route for {} {}", req.method(), req.path());
        return ApiError::not_found(message).error_response();
    }
    let allow = allowed.join(", ");
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed here; allowed: {allow}", req.method()),
    )
    .error_response();
    if let Ok(v) = header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// The route of a request, looked up once (by the first middleware asking) and kept with it.
pub fn route_for(req: &ServiceRequest) -> Option<&'static Route> {
    #[derive(Clone, Copy)]
    struct Matched(Option<&'static Route>);
    if let Some(m) = req.extensions().get::<Matched>() {
        return m.0;
    }
    let route = route_of(req.method(), req.path());
    req.extensions_mut().insert(Matched(route));
    route
}

/// The route a request is dispatched to: the first, in registration order, whose method is
/// the request's and whose path matches — as actix routes it. (`match_pattern` alone is not
/// enough: `GET /collectors/register` matches the pattern of the POST-only registration,
/// yet is dispatched to `GET /collectors/{id}`.)
fn route_of(method: &Method, path: &str) -> Option<&'static Route> {
    PATHS
        .iter()
        .find(|(def, route)| route.method == method.as_str() && def.is_match(path))
        .map(|(_, route)| *route)
}
