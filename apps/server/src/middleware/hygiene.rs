//! Request hygiene, applied to every request: a request id, the rate limits with their
//! headers (`X-RateLimit-Limit`, `X-RateLimit-Remaining`; a refused request is 429 with
//! `Retry-After`; the health check is exempt, so a flooding neighbour cannot make a server
//! look down), query strings without control characters, request bodies on a clock (a body
//! that stalls or dribbles is cut with 408), and security headers on every answer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use sha2::{Digest, Sha256};

use crate::body::{BodyTimeouts, TimedPayload};
use crate::error::ApiError;
use crate::middleware::ratelimit::{Budget, Decision};
use crate::request::{RequestId, control_character_in_query, peer_fingerprint};
use crate::routes::table::route_for;
use crate::state::AppState;

/// The health check, exempt from rate limits.
const HEALTH: &str = "/api/v1/health";

/// A short, non-reversible key for a presented credential.
fn credential_key(req: &ServiceRequest) -> Option<String> {
    let h = req.headers();
    let v = h
        .get("x-api-key")
        .or_else(|| h.get(actix_web::http::header::AUTHORIZATION))?;
    Some(hex::encode(&Sha256::digest(v.as_bytes())[..12]))
}

fn request_id(req: &ServiceRequest, state: Option<&AppState>) -> String {
    // A caller's id is kept when it is short and plain (correlation across proxies).
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .or_else(|| state.map(|s| s.ids.uuid().to_string()))
        .unwrap_or_default()
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")),
    )
}

/// Security headers for an API that serves JSON (and its own documentation page).
const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("cross-origin-resource-policy", "same-origin"),
];

/// Checks the budgets the request spends: the collectors' by collector, or the people's by
/// address and by credential. Each decision comes with its budget's burst.
fn rate_limit(req: &ServiceRequest, state: &AppState, ingest: bool) -> Vec<(u32, Decision)> {
    let limits = &state.rate_limits;
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let spend = |b: &Budget, key: &str| (b.burst, b.check(key));
    if ingest {
        let key = peer_fingerprint(req.request()).map_or(address, |f| f.as_str().to_owned());
        return vec![spend(&limits.ingest, &key)];
    }
    let mut decisions = vec![spend(&limits.people_by_address, &address)];
    if let Some(key) = credential_key(req) {
        decisions.push(spend(&limits.people_by_credential, &key));
    }
    decisions
}

/// The longest wait any refusing budget asks for, if one refuses.
fn refused(decisions: &[(u32, Decision)]) -> Option<u64> {
    decisions
        .iter()
        .filter_map(|(_, d)| match d {
            Decision::Refused { retry_after_secs } => Some(*retry_after_secs),
            Decision::Allowed { .. } => None,
        })
        .max()
}

/// The rate-limit headers (of the tightest budget), the request id, the security headers,
/// and `no-store` unless the handler said otherwise.
fn add_headers(
    h: &mut actix_web::http::header::HeaderMap,
    decisions: &[(u32, Decision)],
    id: &str,
) {
    let tightest = decisions
        .iter()
        .map(|(burst, d)| match d {
            Decision::Allowed { remaining } => (*burst, *remaining),
            Decision::Refused { .. } => (*burst, 0),
        })
        .min_by_key(|(_, r)| *r);
    if let Some((limit, remaining)) = tightest {
        let (n, v) = header("x-ratelimit-limit", &limit.to_string());
        h.insert(n, v);
        let (n, v) = header("x-ratelimit-remaining", &remaining.to_string());
        h.insert(n, v);
    }
    let (n, v) = header("x-request-id", id);
    h.insert(n, v);
    for (name, value) in SECURITY_HEADERS
        .into_iter()
        .chain([("cache-control", "no-store")])
    {
        if !h.contains_key(name) {
            let (n, v) = header(name, value);
            h.insert(n, v);
        }
    }
}

/// Request id, rate limits and security headers.
/// Puts a request's body, when it has one, on the clock (`TimedPayload`).
fn time_body(req: &mut ServiceRequest, timeouts: BodyTimeouts) {
    let h = req.headers();
    let has_body = h.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || h.get(actix_web::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        let inner = req.take_payload();
        let timed: std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>> =
            Box::pin(TimedPayload::new(inner, timeouts));
        req.set_payload(Payload::from(timed));
    }
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let id = request_id(&req, state.as_ref().map(|s| s.get_ref()));
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = route_for(&req);
    let ingest = route.is_some_and(|r| r.access.is_ingest());
    let decisions = match (&state, route) {
        (Some(_), Some(r)) if r.path == HEALTH => Vec::new(),
        (Some(s), _) => rate_limit(&req, s, ingest),
        (None, _) => Vec::new(),
    };
    let mut res = match (refused(&decisions), &state) {
        (Some(secs), Some(state)) => {
            state
                .metrics
                .rate_limited(if ingest { "ingest" } else { "people" });
            let err = ApiError::too_many_requests(
                format!("rate limit exceeded; retry in {secs} s"),
                secs,
            );
            req.into_response(err.error_response())
                .map_into_right_body()
        }
        _ => match control_character_in_query(req.request()) {
            Some(name) => {
                let err = ApiError::bad_request(
                    "invalid_query",
                    format!("`{name}` must not contain control characters"),
                );
                req.into_response(err.error_response())
                    .map_into_right_body()
            }
            None => {
                if let Some(state) = &state {
                    time_body(&mut req, state.limits.body);
                }
                next.call(req).await?.map_into_left_body()
            }
        },
    };
    add_headers(res.headers_mut(), &decisions, &id);
    Ok(res)
}
