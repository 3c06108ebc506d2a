//! A server's page: the range picker and its charts.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use pganalytics_domain::access::Permission;
use pganalytics_domain::console::range::{PRESETS, TimeRange, rfc3339};
use pganalytics_ports::usecases::{QueryError, ServerPage};
use serde::Deserialize;

use super::chart;
use super::layout::{self, Nav, server_tabs};
use super::page::{ConsoleError, caller, encode, html as render};
use crate::state::AppState;

/// The range a page was asked for.
#[derive(Debug, Deserialize)]
pub struct RangeParams {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl RangeParams {
    pub fn parse(&self, state: &AppState) -> Result<TimeRange, ConsoleError> {
        TimeRange::parse(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            state.uc.maintenance.clock.now(),
        )
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))
    }
}

impl From<QueryError> for ConsoleError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Store(s) => s.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

/// The range picker: the presets as links, and a custom range form, for `path`.
pub fn picker(path: &str, range: &TimeRange, extra: &[(&str, &str)]) -> Markup {
    let extra_query: String = extra
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("&{k}={}", encode(v)))
        .collect();
    html! {
        div.picker {
            nav aria-label="Time range" {
                ul {
                    @for (name, _) in PRESETS {
                        li { a href=(format!("{path}?range={name}{extra_query}")) aria-current=[(range.preset == Some(*name)).then_some("true")] { (name) } }
                    }
                }
            }
            form.custom method="get" action=(path) {
                @for (k, v) in extra { input type="hidden" name=(k) value=(v); }
                label for="from" { "From" }
                input #from name="from" type="text" value=(rfc3339(range.from)) size="20" data-utc="1";
                label for="to" { "To" }
                input #to name="to" type="text" value=(rfc3339(range.to)) size="20" data-utc="1";
                button type="submit" { "Show" }
                label.refresh { input type="checkbox" data-autorefresh="60" disabled[range.preset.is_none()]; " auto-refresh" }
            }
        }
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let range = params.parse(&state)?;
    let model = state.uc.server_page(*id, range).await?;
    let title = model.server.instance.as_str().to_owned();
    Ok(render(layout::page(&title, Nav::Fleet, &who, view(&model))))
}

pub fn view(m: &ServerPage) -> Markup {
    let id = m.server.id;
    let (from, to) = (m.range.from.unix_timestamp(), m.range.to.unix_timestamp());
    html! {
        div.pagehead {
            h1 { (m.server.instance.as_str()) }
            p.summary {
                "agent " (m.server.collector_id.to_string()) " · last seen " (layout::when(m.server.last_seen))
            }
        }
        (server_tabs(id, "charts", &m.range.query()))
        (picker(&format!("/console/servers/{id}"), &m.range, &[]))
        p.tier {
            "From the " strong { (m.tier.as_str()) } " data, one point every " (pganalytics_domain::console::format::seconds(m.step.as_seconds_f64())) "."
            @if let Some(why) = &m.downsampled { " " (why) }
            " Drag across a chart to zoom."
        }
        div.charts {
            @for c in &m.charts { (chart::svg(c, from, to, m.step.whole_seconds())) }
        }
    }
}
