//! The log search: the log-event API's filters as a form, counts by kind over the range,
//! and the events newest first with every field, a page at a time.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use pganalytics_domain::access::Permission;
use pganalytics_domain::console::format;
use pganalytics_ports::usecases::{LogSearchError, LogSearchRequest};
use serde::Deserialize;

use super::chart;
use super::layout::{self, Nav, when};
use super::page::{ConsoleError, caller, encode, html as render};
use super::server::{RangeParams, picker};
use crate::state::AppState;

impl From<LogSearchError> for ConsoleError {
    fn from(e: LogSearchError) -> Self {
        match e {
            LogSearchError::Store(s) => s.into(),
            LogSearchError::Invalid { .. } => Self::BadRequest(e.to_string()),
        }
    }
}

/// The filters, each a comma-separated list where the API takes several values.
#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(flatten)]
    range: RangeParams,
    #[serde(default)]
    server: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    sqlstate: String,
    #[serde(default)]
    database: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    q: String,
    cursor: Option<String>,
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Params {
    fn filters(&self) -> [(&'static str, &'static str, &str); 8] {
        [
            ("severity", "Severity", &self.severity),
            ("category", "Category", &self.category),
            ("kind", "Kind", &self.kind),
            ("sqlstate", "SQLSTATE or class", &self.sqlstate),
            ("database", "Database", &self.database),
            ("user", "User", &self.user),
            ("application", "Application", &self.application),
            ("q", "Text", &self.q),
        ]
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let p = params.into_inner();
    let range = p.range.parse(&state)?;
    let servers = list(&p.server)
        .iter()
        .map(|s| s.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ConsoleError::BadRequest("`server`: a server id is a number".into()))?;
    let search = LogSearchRequest {
        from: Some(range.from),
        to: Some(range.to),
        servers,
        severities: list(&p.severity)
            .into_iter()
            .map(|s| s.to_uppercase())
            .collect(),
        categories: list(&p.category),
        kinds: list(&p.kind),
        sqlstates: list(&p.sqlstate),
        databases: list(&p.database),
        users: list(&p.user),
        applications: list(&p.application),
        text: Some(p.q.trim().to_owned()).filter(|q| !q.is_empty()),
        cursor: p.cursor.clone().filter(|c| !c.is_empty()),
        limit: Some(100),
    };
    let m = state.uc.logs_page(&search).await?;
    let names: std::collections::BTreeMap<i64, String> = m
        .servers
        .iter()
        .map(|s| (s.id, s.instance.as_str().to_owned()))
        .collect();
    let mut kept: Vec<(&str, &str)> = vec![("server", p.server.as_str())];
    kept.extend(p.filters().iter().map(|(k, _, v)| (*k, *v)));
    let base_query: String = kept
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("&{k}={}", encode(v)))
        .collect();
    let (from, to) = (range.from.unix_timestamp(), range.to.unix_timestamp());
    let body = html! {
        div.pagehead { h1 { "Logs" } }
        (picker("/console/logs", &range, &kept))
        form.filters.logfilters method="get" action="/console/logs" role="search" {
            input type="hidden" name=(if range.preset.is_some() { "range" } else { "from" }) value=(range.preset.map_or_else(|| pganalytics_domain::console::range::rfc3339(range.from), str::to_owned));
            @if range.preset.is_none() { input type="hidden" name="to" value=(pganalytics_domain::console::range::rfc3339(range.to)); }
            label for="server" { "Server" }
            select #server name="server" {
                option value="" { "all" }
                @for s in &m.servers {
                    option value=(s.id) selected[p.server == s.id.to_string()] { (s.instance.as_str()) }
                }
            }
            @for (name, label, value) in p.filters() {
                label for=(name) { (label) }
                input id=(name) name=(name) type=(if name == "q" { "search" } else { "text" }) value=(value);
            }
            button type="submit" { "Search" }
        }
        div.charts { (chart::svg(&m.counts, from, to, m.step.whole_seconds())) }
        h2 { "Events" }
        @if m.events.events.is_empty() {
            p.empty { "No event matches in this range." }
        } @else {
            ol.events {
                @for e in &m.events.events { (event(e, &names)) }
            }
        }
        @if let Some(c) = &m.events.next_cursor {
            p { a.more href=(format!("/console/logs?{}{base_query}&cursor={}", range.query(), encode(c))) { "Older events" } }
        }
    };
    Ok(render(layout::page("Logs", Nav::Logs, &who, body)))
}

fn event(
    e: &pganalytics_ports::store::LogEventRow,
    names: &std::collections::BTreeMap<i64, String>,
) -> Markup {
    let sev = e.severity.as_deref().unwrap_or("LOG");
    let field = |label: &str, v: Option<String>| {
        html! { @if let Some(v) = v { dt { (label) } dd { (v) } } }
    };
    html! {
        li.event {
            details {
                summary {
                    (when(e.time)) " "
                    span class=(format!("sev {}", sev.to_lowercase())) { (sev) } " "
                    span.kind { (e.kind.as_deref().unwrap_or("unclassified")) } " "
                    span.msg { (e.message.as_deref().unwrap_or("")) }
                }
                dl {
                    (field("Server", Some(names.get(&e.server_id).cloned().unwrap_or_else(|| e.server_id.to_string()))))
                    (field("Category", e.category.clone()))
                    (field("SQLSTATE", e.sqlstate.clone()))
                    (field("Database", e.datname.clone()))
                    (field("User", e.username.clone()))
                    (field("Application", e.application_name.clone()))
                    (field("Process", e.pid.map(|p| format!("{p:.0}"))))
                    (field("Duration", e.duration_ms.map(|d| format::seconds(d / 1000.0))))
                    @for (name, value) in &e.fields {
                        (field(name, Some(match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })))
                    }
                    (field("Template", e.template.clone()))
                    (field("Event id", Some(e.event_id.to_string())))
                }
            }
        }
    }
}
