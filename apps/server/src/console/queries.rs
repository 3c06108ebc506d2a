//! A server's top statements over the range, and one statement's charts.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use pganalytics_domain::access::Permission;
use pganalytics_domain::console::format;
use pganalytics_ports::store::StatementOrder;
use pganalytics_ports::usecases::StatementsError;
use serde::Deserialize;

use super::chart;
use super::layout::{self, Nav, server_tabs};
use super::page::{ConsoleError, caller, html as render};
use super::server::{RangeParams, picker};
use crate::state::AppState;

impl From<StatementsError> for ConsoleError {
    fn from(e: StatementsError) -> Self {
        match e {
            StatementsError::Store(s) => s.into(),
            StatementsError::NotFound(_) => Self::NotFound(e.to_string()),
            StatementsError::Invalid { .. } => Self::BadRequest(e.to_string()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Params {
    #[serde(flatten)]
    range: RangeParams,
    sort: Option<String>,
}

fn ms(v: f64) -> String {
    format::seconds(v / 1000.0)
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let range = params.range.parse(&state)?;
    let order = params
        .sort
        .as_deref()
        .and_then(StatementOrder::parse)
        .unwrap_or(StatementOrder::TotalTime);
    let (server, reply) = state.uc.statements_page(*id, &range, order).await?;
    let path = format!("/console/servers/{id}/queries");
    let rq = range.query();
    let head = |o: StatementOrder, label: &str| {
        html! {
            th scope="col" aria-sort=(if o == order { "descending" } else { "none" }) {
                a href=(format!("{path}?{rq}&sort={}", o.as_str())) { (label) }
            }
        }
    };
    let body = html! {
        div.pagehead { h1 { (server.instance.as_str()) ": queries" } }
        (server_tabs(*id, "queries", &rq))
        (picker(&path, &range, &[("sort", order.as_str())]))
        p.tier { "Top " (reply.statements.len()) " statements by " (order.as_str().replace('_', " ")) ", from the " (reply.tier.as_str()) " data." }
        @if reply.statements.is_empty() {
            p.empty { "No statement statistics in this range. The agent reads them from pg_stat_statements (see `pganalytics-agent check`)." }
        } @else {
            div.tablewrap { table.statements {
                thead { tr {
                    th scope="col" { "Statement" }
                    (head(StatementOrder::TotalTime, "Total time"))
                    (head(StatementOrder::MeanTime, "Mean"))
                    (head(StatementOrder::Calls, "Calls"))
                    (head(StatementOrder::Rows, "Rows"))
                    (head(StatementOrder::SharedBlksRead, "Blocks read"))
                    (head(StatementOrder::SharedBlksHit, "Blocks hit"))
                    (head(StatementOrder::TempBlks, "Temp blocks"))
                } }
                tbody { @for s in &reply.statements {
                    @let t = &s.totals;
                    tr {
                        td.sql {
                            a href=(format!("{path}/{}?{rq}", t.queryid)) {
                                code { (t.query.as_deref().map_or("(text not kept)", |q| truncate(q, 160))) }
                            }
                            br; span.muted { (t.datname.as_deref().unwrap_or("?")) " · " (t.username.as_deref().unwrap_or("?")) " · " (t.queryid) }
                        }
                        td.num { (ms(t.total_time_ms)) }
                        td.num { (layout::figure(s.mean_time_ms, ms)) }
                        td.num { (format::count(t.calls)) }
                        td.num { (format::count(t.rows)) }
                        td.num { (format::count(t.shared_blks_read)) }
                        td.num { (format::count(t.shared_blks_hit)) }
                        td.num { (format::count(t.temp_blks_written)) }
                    }
                } }
            } }
        }
    };
    Ok(render(layout::page("Queries", Nav::Fleet, &who, body)))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let (id, queryid) = path.into_inner();
    let range = params.parse(&state)?;
    let m = state.uc.statement_page(id, &queryid, range).await?;
    let (from, to) = (m.range.from.unix_timestamp(), m.range.to.unix_timestamp());
    let text = m.detail.totals.iter().find_map(|t| t.totals.query.clone());
    let body = html! {
        div.pagehead { h1 { "Statement " (queryid) } p.summary { "on " (m.server.instance.as_str()) } }
        (server_tabs(id, "queries", &m.range.query()))
        (picker(&format!("/console/servers/{id}/queries/{queryid}"), &m.range, &[]))
        pre.sql { code { (text.as_deref().unwrap_or("(text not kept)")) } }
        table.statements {
            thead { tr { th scope="col" { "Database" } th scope="col" { "User" } th scope="col" { "Calls" } th scope="col" { "Total time" } th scope="col" { "Mean" } th scope="col" { "Rows per call" } } }
            tbody { @for s in &m.detail.totals { tr {
                td { (s.totals.datname.as_deref().unwrap_or("?")) }
                td { (s.totals.username.as_deref().unwrap_or("?")) }
                td.num { (format::count(s.totals.calls)) }
                td.num { (ms(s.totals.total_time_ms)) }
                td.num { (layout::figure(s.mean_time_ms, ms)) }
                td.num { (layout::figure(s.rows_per_call, format::count)) }
            } } }
        }
        div.charts { @for c in &m.charts { (chart::svg(c, from, to, m.detail.step.whole_seconds())) } }
    };
    Ok(render(layout::page("Statement", Nav::Fleet, &who, body)))
}
