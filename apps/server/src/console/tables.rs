//! A server's tables and indexes, from the latest catalog reading.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use pganalytics_domain::access::Permission;
use pganalytics_domain::console::format;

use super::layout::{self, Nav, figure, maybe_when, server_tabs};
use super::page::{ConsoleError, caller, html as render};
use crate::state::AppState;

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let (server, m) = state.uc.tables_page(*id).await?;
    let body = html! {
        div.pagehead {
            h1 { (server.instance.as_str()) ": tables and indexes" }
            p.summary { (m.table_count) " tables, " (m.index_count) " indexes · read " (maybe_when(m.as_of)) }
        }
        (server_tabs(*id, "tables", "range=1h"))
        @if m.tables.is_empty() {
            p.empty { "No table statistics in the last 30 minutes." }
        } @else {
            h2 { "Largest tables" }
            div.tablewrap { table.tables {
                thead { tr {
                    th scope="col" { "Table" } th scope="col" { "Size" } th scope="col" { "Growth / day" }
                    th scope="col" { "Live rows" } th scope="col" { "Dead rows" } th scope="col" { "Last vacuum" }
                    th scope="col" { "Last analyze" } th scope="col" { "Seq scans" } th scope="col" { "Index scans" }
                    th scope="col" { "Wraparound age" }
                } }
                tbody { @for t in &m.tables { tr {
                    td { (t.schema) "." (t.name) br; span.muted { (t.datname) } }
                    td.num { (format::bytes(t.total_bytes)) br; span.muted { "indexes " (figure(t.indexes_bytes, format::bytes)) } }
                    td.num { (figure(t.growth_bytes_per_day, format::bytes)) }
                    td.num { (figure(t.live_tuples, format::count)) }
                    td.num class=[t.dead_ratio.filter(|r| *r > 0.2).map(|_| "warn")] {
                        (figure(t.dead_tuples, format::count))
                        @if let Some(r) = t.dead_ratio { br; span.muted { (format::ratio(r)) } }
                    }
                    td { (maybe_when(t.last_vacuum)) }
                    td { (maybe_when(t.last_analyze)) }
                    td.num { (figure(t.seq_scans, format::count)) }
                    td.num { (figure(t.index_scans, format::count)) }
                    td.num { (figure(t.wraparound_age, format::count)) }
                } } }
            } }
            @if m.table_count > m.tables.len() { p.muted { "The " (m.tables.len()) " largest of " (m.table_count) " are listed." } }
        }
        h2 { "Unused and invalid indexes" }
        @if m.flagged_indexes.is_empty() {
            p.empty { "None: every index was scanned since the statistics were reset, and all are valid." }
        } @else {
            div.tablewrap { table.indexes {
                thead { tr { th scope="col" { "Index" } th scope="col" { "Table" } th scope="col" { "Size" } th scope="col" { "Scans" } th scope="col" { "Problem" } } }
                tbody { @for i in &m.flagged_indexes { tr {
                    td { (i.schema) "." (i.name) br; span.muted { (i.datname) } }
                    td { (i.table) }
                    td.num { (figure(i.bytes, format::bytes)) }
                    td.num { (figure(i.scans, format::count)) }
                    td { @if i.invalid { span.sev.critical { "invalid" } " " } @if i.unused { "never scanned" } }
                } } }
            } }
        }
    };
    Ok(render(layout::page("Tables", Nav::Fleet, &who, body)))
}
