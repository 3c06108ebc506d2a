//! Signing in and out of the console.
//!
//! The sign-in form is protected from cross-site use by a one-time value kept in a
//! short-lived cookie and echoed by the form (a page elsewhere can neither read the cookie
//! nor make the browser send it: `SameSite=Strict`). Failed sign-ins are throttled by the
//! login use case exactly as API logins are.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use pganalytics_domain::access::Permission;
use pganalytics_ports::usecases::LoginError;
use secrecy::SecretString;
use serde::Deserialize;

use super::layout;
use super::page::{
    COOKIE, ConsoleError, CsrfForm, ROOT, caller, clear_cookie, cookie, same_origin, see_other,
};
use crate::request::origin;
use crate::state::AppState;

/// The sign-in form's one-time value.
const NONCE: &str = "__Host-pga_signin";

/// Where to go after signing in: a console page, never another site.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/console/fleet")
        .to_owned()
}

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn sign_in_form(nonce: &str, next: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            section.signin {
                h1 { "Sign in" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/console/sign-in" {
                    input type="hidden" name="nonce" value=(nonce);
                    input type="hidden" name="next" value=(next);
                    label for="username" { "User name" }
                    input #username name="username" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
                p.muted { "The demo prints its administrator's password when it starts." }
            }
        },
    )
}

/// The form, with a fresh one-time value in its cookie.
fn form_response(
    state: &AppState,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> HttpResponse {
    let nonce = hex::encode(state.ids.secret());
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(sign_in_form(&nonce, next, error).into_string());
    let _ = res.add_cookie(&cookie(NONCE, nonce, CookieDuration::minutes(30)));
    res
}

pub async fn form(state: web::Data<AppState>, q: web::Query<Next>) -> HttpResponse {
    form_response(&state, StatusCode::OK, &safe_next(q.next.as_deref()), None)
}

#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: SecretString,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignIn>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let expected = req.cookie(NONCE).map(|c| c.value().to_owned());
    if !same_origin(&req)
        || form.nonce.is_empty()
        || expected.as_deref() != Some(form.nonce.as_str())
    {
        return Ok(form_response(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired or came from another site. Please sign in again."),
        ));
    }
    match state
        .uc
        .login
        .console(form.username.trim(), form.password, origin(&req))
        .await
    {
        Ok(session) => {
            let mut res = see_other(&next);
            let _ = res.add_cookie(&cookie(
                COOKIE,
                session.token,
                CookieDuration::seconds(session.max_age.whole_seconds().max(60)),
            ));
            let _ = res.add_removal_cookie(&cookie(NONCE, String::new(), CookieDuration::ZERO));
            Ok(res)
        }
        Err(LoginError::InvalidCredentials) => Ok(form_response(
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("The user name or password is wrong."),
        )),
        Err(e @ LoginError::Throttled(_)) => Ok(form_response(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!("{}.", capitalized(&e.to_string()))),
        )),
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(_) => Err(ConsoleError::Unavailable),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, Some(&form.csrf)).await?;
    state.uc.logout.execute(&who.audit, &who.principal).await?;
    let mut res = see_other(&format!("{ROOT}/sign-in"));
    clear_cookie(&mut res);
    Ok(res)
}
