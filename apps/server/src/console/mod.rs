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
mod queries;
mod server;
mod session;
mod tables;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use maud::Markup;
use pganalytics_domain::access::Permission;
use pganalytics_ports::StoreError;
use pganalytics_ports::usecases::{Attempt, ConsoleCaller, Denied, PersonAuthError};

use crate::request::origin;
use crate::state::AppState;

/// Where the console lives.
pub const ROOT: &str = "/console";

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
            .route("/assets/{name}", web::get().to(assets::get))
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

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A rendered page.
pub fn html(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// Why a console request was not served, as the page a person sees.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): to the sign-in page, then back.
    #[error("sign in to continue")]
    SignIn { next: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the server's database is not answering; try again in a moment")]
    Unavailable,
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } | StoreError::Conflict { .. } | StoreError::Invalid(_) => {
                let message = e.to_string();
                if matches!(e, StoreError::NotFound { .. }) {
                    Self::NotFound(message)
                } else {
                    Self::BadRequest(message)
                }
            }
            StoreError::Unavailable(_) | StoreError::Unknown(_) => Self::Unavailable,
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignIn { next } = self {
            let to = format!("{ROOT}/sign-in?next={}", session::encode_next(next));
            let mut res = see_other(&to);
            session::clear_cookie(&mut res);
            return res;
        }
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(layout::error_page(self.status_code(), &self.to_string()).into_string())
    }
}

/// Whether a state-changing request comes from this console: a browser names the page's
/// origin in `Origin` (or at least `Referer`), which must be this server.
fn same_origin(req: &HttpRequest) -> bool {
    let host = req.connection_info().host().to_owned();
    let expected = format!("https://{host}");
    let h = req.headers();
    if let Some(o) = h.get(header::ORIGIN) {
        return o.as_bytes() == expected.as_bytes();
    }
    h.get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .is_some_and(|r| r == expected || r.starts_with(&format!("{expected}/")))
}

/// The signed-in person, if the route's `permission` lets them through; for a change, the
/// form's `csrf` token must be the session's and the request must come from this origin.
pub async fn caller(
    req: &HttpRequest,
    state: &AppState,
    permission: Permission,
    csrf: Option<&str>,
) -> Result<ConsoleCaller, ConsoleError> {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if changes && !same_origin(req) {
        return Err(ConsoleError::Forbidden(
            "this form was sent from another site; open the console and try again".into(),
        ));
    }
    let attempt = Attempt {
        access: pganalytics_domain::access::Access::Person(permission),
        action: format!(
            "{} {}",
            req.method(),
            req.match_pattern().unwrap_or_default()
        ),
        changes,
        origin: origin(req),
    };
    let cookie = req.cookie(session::COOKIE);
    let next = || match req.method() {
        &Method::GET => req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned()),
        _ => format!("{ROOT}/fleet"),
    };
    match state
        .uc
        .authorize
        .console(
            attempt,
            permission,
            cookie.as_ref().map(|c| c.value()),
            csrf,
        )
        .await
    {
        Ok(c) => Ok(c),
        Err(Denied::Person(PersonAuthError::Store(e))) => Err(e.into()),
        Err(Denied::Person(_)) => Err(ConsoleError::SignIn { next: next() }),
        Err(e @ (Denied::Forbidden { .. } | Denied::Csrf)) => {
            Err(ConsoleError::Forbidden(e.to_string()))
        }
        Err(e) => Err(ConsoleError::Forbidden(e.to_string())),
    }
}

/// The pages' HTML without a request, as the handlers send it to a signed-in
/// administrator: for the benchmarks (`tier-bench` times page model and rendering, the
/// server's whole share of a page).
pub mod render {
    use pganalytics_domain::access::{Principal, PrincipalKind, Role};
    use pganalytics_domain::audit::{AuditContext, Origin};
    use pganalytics_domain::console::fleet::FleetPage;
    use pganalytics_ports::usecases::{ConsoleCaller, ServerPage};

    use super::layout::{self, Nav};

    fn admin() -> ConsoleCaller {
        let principal = Principal {
            kind: PrincipalKind::User {
                id: uuid::Uuid::nil(),
                username: "admin".into(),
                session: uuid::Uuid::nil(),
            },
            role: Role::Admin,
        };
        ConsoleCaller {
            audit: AuditContext {
                actor: principal.actor(),
                origin: Origin::default(),
            },
            principal,
            csrf: String::new(),
            expires_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    pub fn fleet(m: &FleetPage) -> String {
        layout::page("Fleet", Nav::Fleet, &admin(), super::fleet::view(m)).into_string()
    }

    pub fn server(m: &ServerPage) -> String {
        layout::page("Server", Nav::Fleet, &admin(), super::server::view(m)).into_string()
    }
}
