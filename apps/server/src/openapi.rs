//! The OpenAPI 3.1 document of the API, generated from the code: each handler's
//! `#[utoipa::path]` gives its operation (parameters, request and answer schemas, derived
//! from the Rust types the handler reads and writes), and the route table
//! ([`crate::routes::table::ROUTES`]) completes every operation with what the table decides for
//! all of them: who may call it (security) and the errors the middleware and extractors
//! answer with (401, 403, 404, 400/413/415, 429, 503, 500), all in the one error shape.

use std::sync::LazyLock;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, Header, InfoBuilder, LicenseBuilder, Object, OpenApi, Ref, RefOr, Response,
    ResponseBuilder, Type,
};
use utoipa::{OpenApi as _, PartialSchema};

use pganalytics_domain::access::Access;

use crate::error::ErrorBody;
use crate::routes::table::{Operations, ROUTES, Route};

/// Security scheme names, as the document and the Swagger page show them.
const BEARER: &str = "bearer";
const API_KEY: &str = "api_key";
const REGISTRATION_TOKEN: &str = "registration_token";
const COLLECTOR_CERTIFICATE: &str = "collector_certificate";
const COLLECTOR_TOKEN: &str = "collector_token";

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: LazyLock<OpenApi> = LazyLock::new(build);
    &DOC
}

/// The document as served at `/api/v1/openapi.json`.
pub fn json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    &JSON
}

/// The operation of `method` in a path item.
fn operation_mut<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "GET" => item.get.as_mut(),
        "POST" => item.post.as_mut(),
        "PUT" => item.put.as_mut(),
        "PATCH" => item.patch.as_mut(),
        "DELETE" => item.delete.as_mut(),
        _ => None,
    }
}

/// The operations' groups, as the Swagger page lists them.
#[rustfmt::skip]
const TAGS: [(&str, &str); 10] = [
    ("auth", "Logging in, sessions, who am I"),
    ("users", "People and their roles (admin)"),
    ("api tokens", "Tokens for scripts and Grafana (admin)"),
    ("collectors", "Registered agents, their configuration, enrolment tokens"),
    ("servers", "Monitored PostgreSQL instances and their time series"),
    ("alerts", "Alert rules, alerts, silences, maintenance windows, notification channels"),
    ("audit", "Who changed what, when, from where (admin)"),
    ("agents", "What the agent calls: enrolment, renewal, configuration, pushes"),
    ("health", "Health and the server's own metrics"),
    ("docs", "This document and its interactive page"),
];

fn build() -> OpenApi {
    let mut doc = Operations::openapi();
    doc.info = InfoBuilder::new()
        .title("pgAnalytics API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "PostgreSQL monitoring: agents enrol and push metric batches (mutual TLS); people, \
             scripts and Grafana read, administer and audit. People log in for a 15-minute \
             access token (`Authorization: Bearer …`); scripts use API tokens (`Bearer`, \
             `ApiKey` or `X-API-Key`), never in the query string. Every error is \
             `{\"error\": {\"code\", \"message\"}}`. Requests are rate limited per address and \
             per credential (`X-RateLimit-Limit`, `X-RateLimit-Remaining`; 429 with \
             `Retry-After`).",
        ))
        .license(Some(
            LicenseBuilder::new()
                .name(env!("CARGO_PKG_LICENSE"))
                .identifier(Some(env!("CARGO_PKG_LICENSE")))
                .build(),
        ))
        .build();
    doc.tags = Some(
        TAGS.into_iter()
            .map(|(name, about)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(about))
                    .build()
            })
            .collect(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("ErrorBody".into(), ErrorBody::schema());
    add_security_schemes(components);
    for (name, status_text, headers) in SHARED_RESPONSES {
        components.responses.insert(
            (*name).into(),
            RefOr::T(error_response(status_text, headers)),
        );
    }
    for route in ROUTES {
        let op = doc
            .paths
            .paths
            .get_mut(route.path)
            .and_then(|item| operation_mut(item, route.method));
        // A route without its operation is caught by the test that walks the table.
        if let Some(op) = op {
            complete(op, route);
        }
    }
    doc
}

fn add_security_schemes(c: &mut utoipa::openapi::Components) {
    let bearer = |format: &str, about: &str| {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format(format)
                .description(Some(about))
                .build(),
        )
    };
    c.add_security_scheme(
        BEARER,
        bearer(
            "JWT or API token",
            "A person's access token from `POST /api/v1/auth/login` (15 minutes; refresh with \
             `POST /api/v1/auth/refresh`), or an API token. `Authorization: ApiKey <token>` is \
             accepted as well.",
        ),
    );
    c.add_security_scheme(
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An API token in its own header.",
        ))),
    );
    c.add_security_scheme(
        REGISTRATION_TOKEN,
        bearer(
            "registration token",
            "A registration token (`pgar_…`) from `POST /api/v1/registration-tokens` or \
             `pganalytics-server token create`.",
        ),
    );
    c.add_security_scheme(
        COLLECTOR_CERTIFICATE,
        SecurityScheme::MutualTls {
            description: Some(
                "The collector's client certificate, issued by the server's CA at registration."
                    .into(),
            ),
            deprecated: None,
            extensions: None,
        },
    );
    c.add_security_scheme(
        COLLECTOR_TOKEN,
        bearer(
            "JWT",
            "The collector token from registration (or `POST /api/v1/collectors/{id}/token`), \
             sent beside the client certificate.",
        ),
    );
}

type HeaderSpec = &'static [(&'static str, &'static str)];

const RETRY_AFTER: HeaderSpec = &[("Retry-After", "Seconds to wait before retrying")];

/// The answers the middleware, the extractors and the error mapping give on any route.
const SHARED_RESPONSES: &[(&str, &str, HeaderSpec)] = &[
    (
        "BadRequest",
        "The request is malformed or breaks a rule (see `code`)",
        &[],
    ),
    (
        "Unauthorized",
        "No credential, or one that is unknown, expired or revoked",
        &[("WWW-Authenticate", "`Bearer`")],
    ),
    (
        "Forbidden",
        "The credential's role does not allow this",
        &[],
    ),
    ("NotFound", "No such resource", &[]),
    (
        "PayloadTooLarge",
        "The body is larger than this route accepts",
        &[],
    ),
    (
        "UnsupportedMediaType",
        "The body is not `application/json`",
        &[],
    ),
    (
        "RequestTimeout",
        "The body stopped arriving, or arrived too slowly (`body_timeout`)",
        &[],
    ),
    ("TooManyRequests", "Rate limited", RETRY_AFTER),
    (
        "Internal",
        "An unexpected error (logged by the server)",
        &[],
    ),
    (
        "Unavailable",
        "The database is unavailable; retry later",
        RETRY_AFTER,
    ),
];

fn error_response(description: &str, headers: HeaderSpec) -> Response {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    for (name, about) in headers {
        let mut h = Header::new(Object::with_type(if *name == "Retry-After" {
            Type::Integer
        } else {
            Type::String
        }));
        h.description = Some((*about).into());
        r = r.header(*name, h);
    }
    r.build()
}

/// Who may call a route (the schemes of one requirement each; one requirement naming two
/// schemes needs both), and the errors its access check can answer with.
fn access_of(
    access: Access,
) -> (
    Vec<SecurityRequirement>,
    &'static [(&'static str, &'static str)],
) {
    let any = |schemes: &[&str]| {
        schemes
            .iter()
            .map(|s| SecurityRequirement::new(*s, Vec::<String>::new()))
            .collect::<Vec<_>>()
    };
    const REFUSED: &[(&str, &str)] = &[("401", "Unauthorized"), ("403", "Forbidden")];
    match access {
        Access::Public => (Vec::new(), &[]),
        Access::RegistrationToken => (any(&[REGISTRATION_TOKEN]), &REFUSED[..1]),
        Access::Collector => (
            vec![
                SecurityRequirement::new(COLLECTOR_CERTIFICATE, Vec::<String>::new())
                    .add(COLLECTOR_TOKEN, Vec::<String>::new()),
            ],
            REFUSED,
        ),
        Access::CollectorCertificate => (any(&[COLLECTOR_CERTIFICATE]), REFUSED),
        Access::Person(_) => (any(&[BEARER, API_KEY]), REFUSED),
    }
}

/// What the route table decides for every operation: its security, and the shared errors
/// it can answer with (a handler's own description of a status wins).
fn complete(op: &mut Operation, route: &Route) {
    let mut shared = vec![
        ("429", "TooManyRequests"),
        ("500", "Internal"),
        ("503", "Unavailable"),
    ];
    let (security, refused) = access_of(route.access);
    if !security.is_empty() {
        op.security.get_or_insert(security);
        // Two credentials at once (`X-API-Key` and `Authorization`): conflicting_credentials.
        shared.push(("400", "BadRequest"));
    }
    shared.extend_from_slice(refused);
    if route.path.contains('{') {
        shared.push(("404", "NotFound"));
    }
    let has_query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query),
        RefOr::Ref(_) => false,
    });
    if has_query {
        shared.push(("400", "BadRequest"));
    }
    if op.request_body.is_some() {
        shared.extend([
            ("400", "BadRequest"),
            ("408", "RequestTimeout"),
            ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"),
        ]);
    }
    for (status, name) in shared {
        op.responses
            .responses
            .entry(status.into())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
    if let Access::Person(permission) = route.access {
        let note = format!(
            "\n\nNeeds the `{}` permission (roles: {}).",
            permission.as_str(),
            pganalytics_domain::access::Role::ALL
                .iter()
                .filter(|r| r.allows(permission))
                .map(|r| format!("`{}`", r.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        op.description = Some(op.description.take().unwrap_or_default() + &note);
    }
}
