//! Administration: collectors (certificate expiry, last seen, revoke), registration tokens
//! with the command an agent's host runs, users, API tokens and the audit log.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use pganalytics_domain::access::Permission;
use pganalytics_domain::collector::CollectorStatus;
use pganalytics_ports::usecases::CreateTokenError;
use serde::Deserialize;
use time::Duration;

use super::layout::{self, Nav, csrf, maybe_when, when};
use super::page::{ConsoleError, CsrfForm, caller, html as render, see_other};
use crate::state::AppState;

impl From<CreateTokenError> for ConsoleError {
    fn from(e: CreateTokenError) -> Self {
        match e {
            CreateTokenError::Store(s) => s.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::ManageCollectors, None).await?;
    let m = state.uc.admin_page().await?;
    let body = html! {
        div.pagehead { h1 { "Admin" } }
        section aria-labelledby="collectors" {
            h2 #collectors { "Collectors" }
            @if m.collectors.is_empty() { p.empty { "No agent is registered yet: create a registration token below." } }
            @else {
                div.tablewrap { table {
                    thead { tr { th scope="col" { "Agent" } th scope="col" { "Host" } th scope="col" { "Version" } th scope="col" { "State" } th scope="col" { "Registered" } th scope="col" { "Last seen" } th scope="col" { "Certificate ends" } th scope="col" { span.sr { "Actions" } } } }
                    tbody { @for c in &m.collectors { tr {
                        td { (c.name.as_str()) br; span.muted { (c.id.to_string()) } }
                        td { (c.hostname.as_str()) }
                        td { (c.agent_version.as_deref().unwrap_or("–")) }
                        td { (c.status.as_str()) }
                        td { (when(c.registered_at)) }
                        td { (maybe_when(c.last_seen)) }
                        td class=[(c.certificate.not_after - m.now < m.expiry_warning).then_some("warn")] { (when(c.certificate.not_after)) }
                        td { @if c.status == CollectorStatus::Active {
                            form method="post" action=(format!("/console/admin/collectors/{}/revoke", c.id)) {
                                (csrf(&who))
                                button.danger type="submit" data-confirm=(format!("Revoke {}? Its certificate stops working at once.", c.name.as_str())) { "Revoke" }
                            }
                        } }
                    } } }
                } }
            }
        }
        section aria-labelledby="enrol" {
            h2 #enrol { "Register an agent" }
            form.inline method="post" action="/console/admin/registration-tokens" {
                (csrf(&who))
                label for="uses" { "Agents it may register" }
                input #uses name="uses" type="number" min="1" max="1000" value="1";
                label for="hours" { "Valid for (hours)" }
                input #hours name="hours" type="number" min="1" max="720" value="24";
                button type="submit" { "Create a registration token" }
            }
        }
        section aria-labelledby="users" {
            h2 #users { "Users" }
            table { thead { tr { th scope="col" { "User" } th scope="col" { "Role" } th scope="col" { "Created" } th scope="col" { "State" } } }
            tbody { @for u in &m.users { tr {
                td { (u.username.as_str()) }
                td { (u.role.as_str()) }
                td { (when(u.created_at)) }
                td { @if u.is_active() { "active" } @else { span.muted { "disabled" } } }
            } } } }
            p.muted { "Users are created and changed with the API (POST /api/v1/users) or `pganalytics-server user`." }
        }
        section aria-labelledby="tokens" {
            h2 #tokens { "API tokens" }
            @if m.api_tokens.is_empty() { p.empty { "No API token." } }
            @else {
                table { thead { tr { th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Role" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "State" } } }
                tbody { @for t in &m.api_tokens { tr {
                    td { (t.name) } td { code { (t.prefix) } } td { (t.role.as_str()) }
                    td { (when(t.created_at)) } td { (maybe_when(t.expires_at)) }
                    td { @if t.revoked_at.is_some() { span.muted { "revoked" } } @else { "active" } }
                } } } }
            }
        }
        section aria-labelledby="audit" {
            h2 #audit { "Audit log" }
            div.tablewrap { table.audit {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Outcome" } th scope="col" { "From" } } }
                tbody { @for a in &m.audit { tr {
                    td { (when(a.entry.at)) }
                    td { (a.entry.actor.name.as_deref().unwrap_or(a.entry.actor.kind.as_str())) }
                    td { code { (a.entry.action) } }
                    td { (a.entry.target.as_deref().unwrap_or("")) }
                    td class=[(a.entry.outcome.as_str() == "denied").then_some("warn")] { (a.entry.outcome.as_str()) }
                    td { (a.entry.address.as_deref().unwrap_or("")) }
                } } }
            } }
        }
    };
    Ok(render(layout::page("Admin", Nav::Admin, &who, body)))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    uses: u32,
    hours: i64,
}

pub async fn registration_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(
        &req,
        &state,
        Permission::ManageRegistrationTokens,
        Some(&form.csrf),
    )
    .await?;
    let created = state
        .uc
        .registration_tokens
        .execute(&who.audit, form.uses, Duration::hours(form.hours))
        .await?;
    let url = format!("https://{}", req.connection_info().host());
    let body = html! {
        div.pagehead { h1 { "Registration token" } }
        p { "Shown once. It registers up to " (created.uses) " agent(s) until " (when(created.expires_at)) "." }
        ol.steps {
            li {
                "Save the server's CA certificate on the agent's host as " code { "ca.pem" } ":"
                pre.copy { code { (state.ca_pem) } }
            }
            li {
                "Register the agent:"
                pre.copy { code { "PGANALYTICS_AGENT_REGISTRATION_TOKEN=" (created.secret.expose()) " \\\n  pganalytics-agent register --server " (url) " --ca-file ca.pem" } }
            }
            li { "Check and start it: " code { "pganalytics-agent check" } ", then " code { "pganalytics-agent run" } " (docs/agent.md)." }
        }
        p { a href="/console/admin" { "Back to the admin page" } }
    };
    Ok(render(layout::page(
        "Registration token",
        Nav::Admin,
        &who,
        body,
    )))
}

pub async fn revoke_collector(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::ManageCollectors, Some(&form.csrf)).await?;
    let id = pganalytics_domain::collector::CollectorId::parse(&id)
        .map_err(|_| ConsoleError::NotFound("collector not found".into()))?;
    state.uc.collectors.revoke(&who.audit, id).await?;
    Ok(see_other("/console/admin#collectors"))
}
