//! What a request carries, read the same way everywhere: its credential (headers only, never
//! the query string), its client certificate, where it came from, its id, and the ids in its
//! path.

use actix_web::dev::ServiceRequest;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest};
use pganalytics_domain::audit::Origin;
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::credentials::Fingerprint;
use pganalytics_ports::usecases::Credential;

use crate::error::ApiError;
use crate::tls::PeerFingerprint;

/// The id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who made a request, in its extensions, for the access log.
#[derive(Debug, Clone)]
pub struct PrincipalLabel(pub String);

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
        // Two credentials: which one the request acts with would be a guess (issue 11).
        if req.headers().contains_key(header::AUTHORIZATION) {
            return Err(ApiError::bad_request(
                "conflicting_credentials",
                "send one credential: `X-API-Key` or `Authorization`, not both",
            ));
        }
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

/// The first query parameter holding a control character (NUL, escape sequences, line
/// breaks), if any: refused before any handler or store sees it (issue 11: a NUL reached
/// PostgreSQL and failed there). A query string that does not decode is left to the
/// handler's own parsing.
pub fn control_character_in_query(req: &HttpRequest) -> Option<String> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()?
        .into_inner();
    pairs
        .into_iter()
        .find(|(name, value)| name.chars().chain(value.chars()).any(char::is_control))
        .map(|(name, _)| name.chars().filter(|c| !c.is_control()).collect())
}

/// `value` of `field` as the API accepts strings: without control characters.
pub fn printable(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!("`{field}` must not contain control characters"),
        ));
    }
    Ok(())
}

/// The fingerprint of the verified client certificate on this connection, if any.
pub fn peer_fingerprint(req: &HttpRequest) -> Option<Fingerprint> {
    req.conn_data::<PeerFingerprint>().map(|p| p.0.clone())
}

/// The request's id (set by the hygiene middleware) and client address.
pub fn origin(req: &HttpRequest) -> Origin {
    Origin {
        address: req.peer_addr().map(|a| a.ip().to_string()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// `METHOD /route/pattern`: how the audit log and the access log name an operation.
pub fn action(req: &ServiceRequest) -> String {
    format!(
        "{} {}",
        req.method(),
        req.match_pattern().unwrap_or_default()
    )
}

/// A UUID from the path; anything else is a 404 for `entity` (no such thing).
pub fn path_uuid(raw: &str, entity: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("{entity} not found")))
}

/// A collector id from the path; anything else is a 404 (no such collector).
pub fn collector_id(raw: &str) -> Result<CollectorId, ApiError> {
    CollectorId::parse(raw).map_err(|_| ApiError::not_found("collector not found"))
}
