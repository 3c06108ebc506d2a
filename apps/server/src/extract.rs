//! Request extractors for the two kinds of caller: collectors (client certificate plus
//! collector token) and people or scripts (API token).

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use pganalytics_domain::collector::Collector;
use pganalytics_domain::credentials::{ApiToken, Fingerprint};

use crate::app::AppState;
use crate::error::ApiError;
use crate::tls::PeerFingerprint;

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The fingerprint of the verified client certificate on this connection, if any.
pub fn peer_fingerprint(req: &HttpRequest) -> Option<Fingerprint> {
    req.conn_data::<PeerFingerprint>().map(|p| p.0.clone())
}

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
        Box::pin(async move {
            Ok(Self(
                state
                    .auth_collector
                    .execute(cert.as_ref(), token.as_deref())
                    .await?,
            ))
        })
    }
}

/// A person or script authenticated by an API token.
#[derive(Debug)]
pub struct ApiCaller(pub ApiToken);

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, token) = (state(req), bearer(req));
        Box::pin(async move { Ok(Self(state.auth_api.execute(token.as_deref()).await?)) })
    }
}
