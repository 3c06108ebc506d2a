//! The web console: HTML pages rendered on the server from the page models the use cases
//! build (`pganalytics_domain::console`, `ServerUseCases::*_page`), on the API's port.
//!
//! - A browser signs in with a person's name and password and gets a console-session
//!   cookie (`__Host-pga_session`: `HttpOnly`, `Secure`, `SameSite=Strict`, path `/`); the
//!   session is an ordinary session (listed, revoked and ended like the API's).
//! - Every request is authorized by the `Authorize` use case with the route's permission;
//!   every state-changing form carries the session's CSRF token, checked there, and a
//!   request from another origin is refused before that.
//! - Pages carry a strict Content-Security-Policy: scripts, styles and images from the
//!   server itself only, nothing inline, no external URL anywhere. Charts are SVG drawn
//!   here; `console.js` adds hover values, zoom and auto-refresh.

mod admin;
mod alerts;
mod assets;
mod chart;
mod fleet;
mod layout;
mod logs;
mod page;
mod queries;
pub mod render;
mod server;
mod session;
mod tables;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};

use page::{ConsoleError, ROOT, see_other};

/// The console's policy: everything from this server only, nothing inline.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_console)).service(
        web::scope(ROOT)
            .wrap(from_fn(headers))
            .route("", web::get().to(to_console))
            .route("/", web::get().to(to_console))
            .route("/assets/{name}", web::get().to(asset))
            .route("/sign-in", web::get().to(session::form))
            .route("/sign-in", web::post().to(session::sign_in))
            .route("/sign-out", web::post().to(session::sign_out))
            .route("/fleet", web::get().to(fleet::page))
            .route("/servers/{id}", web::get().to(server::page))
            .route("/servers/{id}/queries", web::get().to(queries::page))
            .route(
                "/servers/{id}/queries/{queryid}",
                web::get().to(queries::detail),
            )
            .route("/servers/{id}/tables", web::get().to(tables::page))
            .route("/logs", web::get().to(logs::page))
            .route("/alerts", web::get().to(alerts::page))
            .route("/alerts/{fingerprint}/ack", web::post().to(alerts::ack))
            .route("/alerts/rules/{name}", web::get().to(alerts::rule))
            .route("/alerts/rules/{name}", web::post().to(alerts::save_rule))
            .route(
                "/alerts/rules/{name}/{action}",
                web::post().to(alerts::enable),
            )
            .route("/silences", web::post().to(alerts::silence))
            .route("/silences/{id}/expire", web::post().to(alerts::expire))
            .route("/admin", web::get().to(admin::page))
            .route(
                "/admin/registration-tokens",
                web::post().to(admin::registration_token),
            )
            .route(
                "/admin/collectors/{id}/revoke",
                web::post().to(admin::revoke_collector),
            )
            .default_service(web::to(not_found)),
    );
}

async fn to_console() -> HttpResponse {
    see_other("/console/fleet")
}

async fn asset(name: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    assets::response(&name).ok_or_else(|| ConsoleError::NotFound(format!("no file {name}")))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound(format!("no page at {}", req.path())))
}

/// The console's own security headers (the API's are added around them for the rest).
async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Not the API's `no-referrer`: under it a browser sends `Origin: null` with a form,
    // and the origin check could not tell the console's forms from anyone's. Nothing is
    // sent to other sites either way.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}
