//! Authorization, before any body is read: the request mapped to the `Authorize` use case
//! (what the caller presented, what the route table says the route needs), and its answer
//! mapped back: the caller, kept in the request for the handler's extractor, or the refusal
//! as an error answer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, ResponseError, web};
use pganalytics_domain::access::Access;
use pganalytics_ports::usecases::{Attempt, Authorized, Credential, Presented};

use crate::error::ApiError;
use crate::request::{self, PrincipalLabel};
use crate::routes::table::route_for;
use crate::state::AppState;

/// What the route needs: the table's answer, except for `GET /metrics` when the server's
/// metrics are public. Paths no route matches need nothing (they answer 404).
fn access(req: &ServiceRequest, state: &AppState) -> Access {
    let Some(route) = route_for(req) else {
        return Access::Public;
    };
    if route.path == "/metrics" && state.public_metrics {
        return Access::Public;
    }
    route.access
}

/// People and scripts present their credential in `Authorization` or `X-API-Key`; agents
/// their registration or collector token as a bearer token.
fn presented(req: &HttpRequest, access: Access) -> Result<Presented, ApiError> {
    let credential = match access {
        Access::Person(_) => request::credential(req)?,
        _ => request::bearer(req).map(Credential::Bearer),
    };
    Ok(Presented {
        credential,
        client_certificate: request::peer_fingerprint(req),
    })
}

async fn check(req: &ServiceRequest, state: &AppState) -> Result<Authorized, ApiError> {
    let access = access(req, state);
    let attempt = Attempt {
        access,
        action: request::action(req),
        changes: !matches!(*req.method(), Method::GET | Method::HEAD),
        origin: request::origin(req.request()),
    };
    let presented = presented(req.request(), access)?;
    Ok(state.uc.authorize.execute(attempt, presented).await?)
}

fn label(authorized: &Authorized) -> Option<String> {
    match authorized {
        Authorized::Person { principal, .. } => Some(principal.label()),
        Authorized::Collector(c) => Some(format!("collector:{}", c.name.as_str())),
        _ => None,
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    match check(&req, &state).await {
        Ok(authorized) => {
            if let Some(l) = label(&authorized) {
                req.extensions_mut().insert(PrincipalLabel(l));
            }
            req.extensions_mut().insert(authorized);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(err) => Ok(req
            .into_response(err.error_response())
            .map_into_right_body()),
    }
}
