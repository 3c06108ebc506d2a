//! What every console page and form shares: the signed-in person (`caller`), the page
//! answers (`html`, `see_other`), why a request was not served (`ConsoleError`), and the
//! session cookie's attributes. A leaf: it imports no page.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use maud::Markup;
use pganalytics_domain::access::Permission;
use pganalytics_ports::StoreError;
use pganalytics_ports::usecases::{Attempt, ConsoleCaller, Denied, PersonAuthError};

use super::layout;
use crate::request::origin;
use crate::state::AppState;

/// Where the console lives.
pub const ROOT: &str = "/console";

/// The console-session cookie. `__Host-`: only ever set by this host, over HTTPS, for `/`.
pub const COOKIE: &str = "__Host-pga_session";

/// A console cookie: `HttpOnly`, `Secure`, `SameSite=Strict`, path `/`.
pub fn cookie(name: &'static str, value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(max_age)
        .finish()
}

/// Tells the browser to forget its session cookie.
pub fn clear_cookie(res: &mut HttpResponse) {
    let _ = res.add_cookie(&cookie(COOKIE, String::new(), CookieDuration::ZERO));
}

/// A value for a query string.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A form that only carries the session's CSRF token (sign out, expire, revoke…).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
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
            let to = format!("{ROOT}/sign-in?next={}", encode(next));
            let mut res = see_other(&to);
            clear_cookie(&mut res);
            return res;
        }
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(layout::error_page(self.status_code(), &self.to_string()).into_string())
    }
}

/// Whether a state-changing request comes from this console: a browser names the page's
/// origin in `Origin` (or at least `Referer`), which must be this server.
pub fn same_origin(req: &HttpRequest) -> bool {
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
    let cookie = req.cookie(COOKIE);
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
