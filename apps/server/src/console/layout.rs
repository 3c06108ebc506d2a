//! The page shell every console page shares: the header with its navigation, the person
//! and the sign-out form; the stylesheet and script; and small pieces (times, figures,
//! hidden CSRF fields) the pages use.

use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use pganalytics_domain::access::{Permission, PrincipalKind};
use pganalytics_domain::console::range::rfc3339;
use pganalytics_ports::usecases::ConsoleCaller;
use time::OffsetDateTime;

use super::assets;

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Fleet,
    Logs,
    Alerts,
    Admin,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · pgAnalytics" }
            link rel="stylesheet" href=(assets::url("console.css"));
            link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
            script src=(assets::url("console.js")) defer {}
        }
    }
}

/// A page for a signed-in person.
pub fn page(title: &str, nav: Nav, who: &ConsoleCaller, body: Markup) -> Markup {
    let name = match &who.principal.kind {
        PrincipalKind::User { username, .. } => username.as_str(),
        PrincipalKind::ApiToken { prefix, .. } => prefix.as_str(),
    };
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(n == nav).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/fleet" { "pgAnalytics" }
                    nav aria-label="Main" {
                        ul {
                            (item(Nav::Fleet, "/console/fleet", "Fleet"))
                            (item(Nav::Alerts, "/console/alerts", "Alerts"))
                            (item(Nav::Logs, "/console/logs", "Logs"))
                            @if who.principal.allows(Permission::ReadAuditLog)
                                || who.principal.allows(Permission::ManageCollectors) {
                                (item(Nav::Admin, "/console/admin", "Admin"))
                            }
                        }
                    }
                    div.who {
                        span { (name) " · " (who.principal.role.as_str()) }
                        form method="post" action="/console/sign-out" {
                            (csrf(who))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
                footer { "pgAnalytics " (env!("CARGO_PKG_VERSION")) " · times in your browser's zone, UTC on hover · " a href="/api/v1/docs" { "API" } }
            }
        }
    }
}

/// A page for someone not signed in (the sign-in form, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                header.top { a.brand href="/console/fleet" { "pgAnalytics" } }
                main #main { (body) }
            }
        }
    }
}

/// A refusal or an error: the reason, and the way on (the main pages; one that needs
/// signing in leads to the sign-in form).
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/console/fleet" { "pgAnalytics" }
                    nav aria-label="Main" {
                        ul {
                            li { a href="/console/fleet" { "Fleet" } }
                            li { a href="/console/alerts" { "Alerts" } }
                            li { a href="/console/logs" { "Logs" } }
                        }
                    }
                }
                main #main {
                    h1 { (status.as_u16()) " " (title) }
                    p.error role="alert" { (message) }
                    p { a href="/console/fleet" { "Back to the fleet" } }
                }
            }
        }
    }
}

/// The hidden field every state-changing form carries.
pub fn csrf(who: &ConsoleCaller) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

/// A time: UTC as written, the browser's zone once the script runs, UTC on hover.
pub fn when(t: OffsetDateTime) -> Markup {
    let utc = rfc3339(t);
    let shown = format!("{} UTC", utc.replace('T', " ").trim_end_matches('Z'));
    html! { time datetime=(utc) title=(shown) { (shown) } }
}

pub fn maybe_when(t: Option<OffsetDateTime>) -> Markup {
    match t {
        Some(t) => when(t),
        None => html! { span.muted { "never" } },
    }
}

/// A figure, or a dash when there is none.
pub fn figure(v: Option<f64>, f: impl Fn(f64) -> String) -> Markup {
    match v {
        Some(v) => html! { (f(v)) },
        None => html! { span.muted title="no reading" { "–" } },
    }
}

/// A server's tabs: its charts, queries and tables.
pub fn server_tabs(id: i64, current: &str, range_query: &str) -> Markup {
    let tab = |key: &str, href: String, label: &str| {
        html! { li { a href=(href) aria-current=[(key == current).then_some("page")] { (label) } } }
    };
    html! {
        nav.tabs aria-label="Server" {
            ul {
                (tab("charts", format!("/console/servers/{id}?{range_query}"), "Charts"))
                (tab("queries", format!("/console/servers/{id}/queries?{range_query}"), "Queries"))
                (tab("tables", format!("/console/servers/{id}/tables"), "Tables and indexes"))
                (tab("logs", format!("/console/logs?server={id}&{range_query}"), "Logs"))
            }
        }
    }
}
