//! Request hygiene, applied to every request: a request id, token-bucket rate limits with
//! their headers, and security headers on every answer.
//!
//! Rate limits (GCRA, the `governor` crate: a token bucket without a timer per key) come in
//! two budgets so neither can starve the other: the people's API is limited per client
//! address and, separately, per presented credential (hashed; never kept in clear); the
//! collectors' endpoints per collector (its client certificate, or its address before it
//! has one). Every answer says `X-RateLimit-Limit` and `X-RateLimit-Remaining`; a refused
//! one is 429 with `Retry-After`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{RequestId, peer_fingerprint};
use crate::routes::{Access, Route, route_of};

type Keyed = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One budget: a sustained rate and a burst, per key.
pub struct Budget {
    limiter: Keyed,
    burst: u32,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// The outcome of one check: allowed with what is left, or refused until some seconds.
enum Decision {
    Allowed { remaining: u32 },
    Refused { retry_after_secs: u64 },
}

impl Budget {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("at least 1");
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst_nz))
                .with_middleware::<StateInformationMiddleware>(),
            burst: burst.max(1),
        }
    }

    fn check(&self, key: &str) -> Decision {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Decision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision::Refused {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            }
        }
    }

    /// Forgets keys whose bucket is full again (bounded memory).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The server's budgets.
#[derive(Debug)]
pub struct RateLimits {
    pub people_by_address: Budget,
    pub people_by_credential: Budget,
    pub ingest: Budget,
}

impl RateLimits {
    pub fn prune(&self) {
        self.people_by_address.prune();
        self.people_by_credential.prune();
        self.ingest.prune();
    }
}

/// A short, non-reversible key for a presented credential.
fn credential_key(req: &ServiceRequest) -> Option<String> {
    let h = req.headers();
    let v = h
        .get("x-api-key")
        .or_else(|| h.get(actix_web::http::header::AUTHORIZATION))?;
    Some(hex::encode(&Sha256::digest(v.as_bytes())[..12]))
}

fn request_id(req: &ServiceRequest) -> String {
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
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
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

/// The access check of the route table, before the handler reads any body: a caller
/// without the permission gets 403 whatever the body holds, and one without the credential
/// the route needs at all gets 401 (the token or certificate itself is verified by the
/// handler's use case).
async fn authorize_route(
    req: &ServiceRequest,
    route: Option<&Route>,
    state: Option<&AppState>,
) -> Result<(), ApiError> {
    let Some(route) = route else {
        return Ok(());
    };
    match route.access {
        Access::Public => Ok(()),
        Access::RegistrationToken => match crate::extract::bearer(req.request()) {
            Some(_) => Ok(()),
            None => Err(crate::extract::registration_token_required()),
        },
        Access::Collector => match peer_fingerprint(req.request()) {
            Some(_) => Ok(()),
            None => Err(pganalytics_ports::usecases::AuthError::MissingCertificate.into()),
        },
        Access::Person(_)
            if route.path == "/metrics" && state.is_some_and(|s| !s.metrics_require_auth) =>
        {
            Ok(())
        }
        Access::Person(permission) => crate::extract::authorize(req.request(), permission)
            .await
            .map(drop),
    }
}

/// Request id, rate limit, permission and security headers.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let route = req.match_pattern().and_then(|p| route_of(req.method(), &p));
    let ingest = route.is_some_and(|r| r.access.is_ingest());
    let mut decisions = Vec::new();
    if let Some(state) = &state {
        let limits = &state.rate_limits;
        let address = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        if ingest {
            let key = peer_fingerprint(req.request()).map_or(address, |f| f.as_str().to_owned());
            decisions.push((limits.ingest.burst, limits.ingest.check(&key)));
        } else {
            decisions.push((
                limits.people_by_address.burst,
                limits.people_by_address.check(&address),
            ));
            if let Some(key) = credential_key(&req) {
                decisions.push((
                    limits.people_by_credential.burst,
                    limits.people_by_credential.check(&key),
                ));
            }
        }
    }
    let refused = decisions
        .iter()
        .filter_map(|(_, d)| match d {
            Decision::Refused { retry_after_secs } => Some(*retry_after_secs),
            Decision::Allowed { .. } => None,
        })
        .max();
    let (limit, remaining) = decisions
        .iter()
        .map(|(burst, d)| match d {
            Decision::Allowed { remaining } => (*burst, *remaining),
            Decision::Refused { .. } => (*burst, 0),
        })
        .min_by_key(|(_, r)| *r)
        .unwrap_or((0, 0));

    let mut res = match refused {
        Some(secs) => {
            if let Some(state) = &state {
                state
                    .metrics
                    .rate_limited(if ingest { "ingest" } else { "people" });
            }
            let err = ApiError::too_many_requests(
                format!("rate limit exceeded; retry in {secs} s"),
                secs,
            );
            req.into_response(err.error_response())
                .map_into_right_body()
        }
        None => match authorize_route(&req, route, state.as_ref().map(|s| s.get_ref())).await {
            Err(err) => req
                .into_response(err.error_response())
                .map_into_right_body(),
            Ok(()) => next.call(req).await?.map_into_left_body(),
        },
    };
    let h = res.headers_mut();
    if !decisions.is_empty() {
        let (n, v) = header("x-ratelimit-limit", &limit.to_string());
        h.insert(n, v);
        let (n, v) = header("x-ratelimit-remaining", &remaining.to_string());
        h.insert(n, v);
    }
    let (n, v) = header("x-request-id", &id);
    h.insert(n, v);
    for (name, value) in SECURITY_HEADERS {
        if !h.contains_key(name) {
            let (n, v) = header(name, value);
            h.insert(n, v);
        }
    }
    if !h.contains_key("cache-control") {
        let (n, v) = header("cache-control", "no-store");
        h.insert(n, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_burst_then_refuses_with_a_wait() {
        let b = Budget::new(1, 3);
        for left in [2, 1, 0] {
            assert!(matches!(b.check("k"), Decision::Allowed { remaining } if remaining == left));
        }
        assert!(matches!(
            b.check("k"),
            Decision::Refused {
                retry_after_secs: 1
            }
        ));
        assert!(matches!(b.check("other"), Decision::Allowed { .. }));
    }
}
