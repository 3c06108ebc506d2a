//! The fleet page: every server, its state and latest figures; sorted and filtered on the
//! server (links and a GET form), so it works without the script.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use pganalytics_domain::access::Permission;
use pganalytics_domain::console::fleet::{FleetPage, FleetQuery, FleetSort};
use pganalytics_domain::console::format;
use pganalytics_domain::fleet::{FleetRow, ServerRole, ServerState};
use serde::Deserialize;

use super::layout::{self, Nav, figure, maybe_when};
use super::page::{ConsoleError, caller, encode, html as render};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Params {
    sort: Option<String>,
    desc: Option<String>,
    state: Option<String>,
    q: Option<String>,
}

const STATES: [ServerState; 4] = [
    ServerState::Up,
    ServerState::Unreachable,
    ServerState::AgentSilent,
    ServerState::Maintenance,
];

pub fn state_label(s: ServerState) -> &'static str {
    match s {
        ServerState::Up => "up",
        ServerState::Unreachable => "target unreachable",
        ServerState::AgentSilent => "agent silent",
        ServerState::Maintenance => "maintenance",
    }
}

impl Params {
    fn query(&self) -> FleetQuery {
        FleetQuery {
            sort: FleetSort::parse(self.sort.as_deref()),
            descending: self.desc.as_deref() == Some("1"),
            state: STATES
                .into_iter()
                .find(|s| Some(s.as_str()) == self.state.as_deref()),
            text: self.q.clone().unwrap_or_default(),
        }
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let model = state.uc.fleet_page(params.query()).await?;
    Ok(render(layout::page(
        "Fleet",
        Nav::Fleet,
        &who,
        view(&model),
    )))
}

fn sort_link(q: &FleetQuery, by: FleetSort, label: &str) -> Markup {
    let desc = if q.sort == by {
        !q.descending
    } else {
        by != FleetSort::Name && by != FleetSort::Urgency
    };
    let mut href = format!(
        "/console/fleet?sort={}&desc={}",
        by.as_str(),
        u8::from(desc)
    );
    if let Some(s) = q.state {
        href.push_str(&format!("&state={}", s.as_str()));
    }
    if !q.text.is_empty() {
        href.push_str(&format!("&q={}", encode(&q.text)));
    }
    let sorted = match (q.sort == by, q.descending) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    html! { th scope="col" aria-sort=(sorted) { a href=(href) { (label) } } }
}

/// The fleet table and its filters.
pub fn view(m: &FleetPage) -> Markup {
    let q = &m.query;
    html! {
        div.pagehead {
            h1 { "Fleet" }
            p.summary {
                (m.total) " servers"
                @for (s, n) in &m.counts {
                    " · " span class=(format!("state {}", s.as_str())) { (n) " " (state_label(*s)) }
                }
            }
        }
        form.filters method="get" action="/console/fleet" role="search" {
            input type="hidden" name="sort" value=(q.sort.as_str());
            input type="hidden" name="desc" value=(u8::from(q.descending));
            label for="q" { "Name" }
            input #q name="q" type="search" value=(q.text) placeholder="instance or agent";
            label for="state" { "State" }
            select #state name="state" {
                option value="" selected[q.state.is_none()] { "any" }
                @for s in STATES {
                    option value=(s.as_str()) selected[q.state == Some(s)] { (state_label(s)) }
                }
            }
            button type="submit" { "Filter" }
            label.refresh { input type="checkbox" data-autorefresh="60"; " auto-refresh" }
        }
        @if m.rows.is_empty() {
            p.empty { @if m.total == 0 { "No server has reported yet. Register an agent from the Admin page." } @else { "No server matches the filter." } }
        } @else {
            div.tablewrap {
                table.fleet {
                    caption.sr { "Monitored servers" }
                    thead { tr {
                        (sort_link(q, FleetSort::Urgency, "State"))
                        (sort_link(q, FleetSort::Name, "Server"))
                        (sort_link(q, FleetSort::Version, "Version"))
                        th scope="col" { "Role" }
                        (sort_link(q, FleetSort::Alerts, "Alerts"))
                        (sort_link(q, FleetSort::Connections, "Connections"))
                        (sort_link(q, FleetSort::Tps, "TPS"))
                        (sort_link(q, FleetSort::CacheHit, "Cache hit"))
                        (sort_link(q, FleetSort::Lag, "Replication lag"))
                        (sort_link(q, FleetSort::DiskFree, "Disk free"))
                        th scope="col" { "Last reading" }
                    } }
                    tbody { @for r in &m.rows { (row(r)) } }
                }
            }
        }
    }
}

fn row(r: &FleetRow) -> Markup {
    html! {
        tr {
            td { span class=(format!("state {}", r.state.as_str())) { (state_label(r.state)) } }
            td { a href=(format!("/console/servers/{}", r.server_id)) { (r.instance) } br; span.muted { (r.collector) } }
            td { (r.version.as_deref().unwrap_or("–")) }
            td { @match r.role { Some(ServerRole::Primary) => "primary", Some(ServerRole::Standby) => "standby", None => "–" } }
            td {
                @if r.firing_alerts > 0 {
                    a.alerts href=(format!("/console/alerts?server={}", r.server_id)) class=(format!("sev {}", r.worst_severity.as_deref().unwrap_or("warning"))) {
                        (r.firing_alerts) " firing"
                    }
                } @else if r.pending_alerts > 0 {
                    span.muted { (r.pending_alerts) " pending" }
                } @else { span.muted { "none" } }
            }
            td.num {
                (figure(r.connections, format::count))
                @if let Some(m) = r.max_connections { span.muted { " / " (format::count(m)) } }
            }
            td.num { (figure(r.transactions_per_second, format::count)) }
            td.num { (figure(r.cache_hit_ratio, format::ratio)) }
            td.num { (figure(r.replication_lag_seconds, format::seconds)) }
            td.num {
                (figure(r.disk_free_ratio, format::ratio))
                @if let (Some(m), Some(a)) = (&r.disk_mountpoint, r.disk_available_bytes) {
                    br; span.muted { (format::bytes(a)) " on " (m) }
                }
            }
            td { (maybe_when(r.last_reading)) }
        }
    }
}
