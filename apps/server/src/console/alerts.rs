//! Alerts: firing and pending with acknowledge and silence, recent history, silences, the
//! rules (admins enable, disable and edit them) and notification channels (admins).

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use pganalytics_domain::access::Permission;
use pganalytics_domain::alerts::matcher::Matcher;
use pganalytics_domain::alerts::state::AlertState;
use pganalytics_domain::console::alerts::silence_matchers;
use pganalytics_domain::console::format;
use pganalytics_ports::usecases::alerts::{AlertAdminError, RuleError};
use pganalytics_ports::usecases::{AlertsPage, ConsoleCaller};
use serde::Deserialize;
use time::Duration;

use super::layout::{self, Nav, csrf, maybe_when, when};
use super::page::{ConsoleError, CsrfForm, caller, html as render, see_other};
use crate::state::AppState;

impl From<AlertAdminError> for ConsoleError {
    fn from(e: AlertAdminError) -> Self {
        match e {
            AlertAdminError::Store(s) => s.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<RuleError> for ConsoleError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Store(s) => s.into(),
            other => Self::BadRequest(other.to_string()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Params {
    server: Option<i64>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::Read, None).await?;
    let channels = who.principal.allows(Permission::ManageNotificationChannels);
    let m = state.uc.alerts_page(params.server, channels).await?;
    Ok(render(layout::page(
        "Alerts",
        Nav::Alerts,
        &who,
        view(&m, &who, params.server),
    )))
}

fn server_name(m: &AlertsPage, a: &AlertState) -> String {
    a.server_id
        .map(|id| {
            m.server_names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        })
        .unwrap_or_else(|| "fleet".into())
}

fn alert_row(m: &AlertsPage, a: &AlertState, who: &ConsoleCaller, actions: bool) -> Markup {
    let can_act = actions && who.principal.allows(Permission::AcknowledgeAlerts);
    html! {
        li.alert class=(format!("sev {}", a.severity.as_str())) {
            div.alerthead {
                span class=(format!("sev {}", a.severity.as_str())) { (a.severity.as_str()) } " "
                strong { (a.summary) } " "
                span.muted { (a.rule) " on " (server_name(m, a)) " · value " (format::short(a.value)) " (threshold " (format::short(a.threshold)) ")" }
            }
            p.muted {
                "active since " (when(a.active_since))
                @if let Some(t) = a.firing_since { " · firing since " (when(t)) }
                @if let Some(t) = a.resolved_at { " · resolved " (when(t)) }
            }
            @if let Some(ack) = &a.ack {
                p.ack { "Acknowledged by " (ack.by) " " (when(ack.at)) @if !ack.comment.is_empty() { ": " (ack.comment) } }
            }
            @if can_act {
                div.actions {
                    @if a.ack.is_none() && a.firing_since.is_some() {
                        form method="post" action=(format!("/console/alerts/{}/ack", a.fingerprint)) {
                            (csrf(who))
                            label for=(format!("ack-{}", a.fingerprint)) { "Comment" }
                            input id=(format!("ack-{}", a.fingerprint)) name="comment" type="text" placeholder="what is being done";
                            button type="submit" { "Acknowledge" }
                        }
                    }
                    details.silence {
                        summary { "Silence…" }
                        form method="post" action="/console/silences" {
                            (csrf(who))
                            label for=(format!("m-{}", a.fingerprint)) { "Matchers (one per line)" }
                            textarea id=(format!("m-{}", a.fingerprint)) name="matchers" rows="3" { (silence_matchers(a)) }
                            label for=(format!("d-{}", a.fingerprint)) { "For" }
                            select id=(format!("d-{}", a.fingerprint)) name="hours" {
                                option value="1" { "1 hour" }
                                option value="4" selected { "4 hours" }
                                option value="24" { "1 day" }
                                option value="168" { "1 week" }
                            }
                            label for=(format!("c-{}", a.fingerprint)) { "Comment" }
                            input id=(format!("c-{}", a.fingerprint)) name="comment" type="text";
                            button type="submit" { "Silence" }
                        }
                    }
                }
            }
        }
    }
}

fn view(m: &AlertsPage, who: &ConsoleCaller, server: Option<i64>) -> Markup {
    let edit = who.principal.allows(Permission::EditAlertRules);
    let expire = who.principal.allows(Permission::AcknowledgeAlerts);
    html! {
        div.pagehead {
            h1 { "Alerts" @if let Some(id) = server { " on " (m.server_names.get(&id).cloned().unwrap_or_else(|| id.to_string())) } }
            p.summary { (m.firing.len()) " firing · " (m.pending.len()) " pending · " (m.silences.len()) " silences" }
            @if server.is_some() { p { a href="/console/alerts" { "All servers" } } }
        }
        section aria-labelledby="firing" {
            h2 #firing { "Firing" }
            @if m.firing.is_empty() { p.empty { "Nothing is firing." } }
            @else { ul.alerts { @for a in &m.firing { (alert_row(m, a, who, true)) } } }
        }
        section aria-labelledby="pending" {
            h2 #pending { "Pending" }
            @if m.pending.is_empty() { p.empty { "Nothing is pending." } }
            @else { ul.alerts { @for a in &m.pending { (alert_row(m, a, who, true)) } } }
        }
        section aria-labelledby="silences" {
            h2 #silences { "Silences" }
            @if m.silences.is_empty() { p.empty { "No active silence." } }
            @else {
                table { thead { tr { th scope="col" { "Matchers" } th scope="col" { "Until" } th scope="col" { "By" } th scope="col" { "Comment" } @if expire { th scope="col" { span.sr { "Actions" } } } } }
                tbody { @for s in &m.silences { tr {
                    td { code { (s.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) } }
                    td { (when(s.ends_at)) }
                    td { (s.created_by) }
                    td { (s.comment) }
                    @if expire { td { form method="post" action=(format!("/console/silences/{}/expire", s.id)) { (csrf(who)) button type="submit" { "Expire" } } } }
                } } } }
            }
        }
        section aria-labelledby="history" {
            h2 #history { "Recently resolved" }
            @if m.resolved.is_empty() { p.empty { "No alert resolved recently." } }
            @else { ul.alerts { @for a in &m.resolved { (alert_row(m, a, who, false)) } } }
        }
        section aria-labelledby="rules" {
            h2 #rules { "Rules" }
            table.rules {
                thead { tr { th scope="col" { "Rule" } th scope="col" { "Severity" } th scope="col" { "State" } th scope="col" { "Last evaluated" } @if edit { th scope="col" { span.sr { "Actions" } } } } }
                tbody { @for r in &m.rules { tr {
                    td { strong { (r.spec.name) } br; span.muted { (r.spec.summary) } @if let Some(e) = &r.last_error { br; span.error { (e) } } }
                    td { span class=(format!("sev {}", r.spec.severity.as_str())) { (r.spec.severity.as_str()) } }
                    td { @if r.spec.enabled { "enabled" } @else { span.muted { "disabled" } } @if r.builtin { span.muted { " · built-in" } } }
                    td { (maybe_when(r.last_evaluated)) }
                    @if edit { td {
                        form method="post" action=(format!("/console/alerts/rules/{}/{}", r.spec.name, if r.spec.enabled { "disable" } else { "enable" })) {
                            (csrf(who))
                            button type="submit" { @if r.spec.enabled { "Disable" } @else { "Enable" } }
                        }
                        a href=(format!("/console/alerts/rules/{}", r.spec.name)) { "Edit" }
                    } }
                } } }
            }
        }
        @if let Some(channels) = &m.channels {
            section aria-labelledby="channels" {
                h2 #channels { "Notification channels" }
                @if channels.is_empty() { p.empty { "No channel: alerts are only shown here. Add one with POST /api/v1/notification-channels." } }
                @else {
                    table { thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Secret" } } }
                    tbody { @for c in channels { tr {
                        td { (c.name) }
                        td { (c.kind.as_str()) }
                        td { @if c.enabled { "enabled" } @else { "disabled" } }
                        td { @if c.has_secret { "set" } @else { "none" } }
                    } } } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    comment: String,
}

pub async fn ack(
    req: HttpRequest,
    state: web::Data<AppState>,
    fingerprint: web::Path<String>,
    form: web::Form<AckForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(
        &req,
        &state,
        Permission::AcknowledgeAlerts,
        Some(&form.csrf),
    )
    .await?;
    state
        .uc
        .alerts
        .acknowledge(
            &who.audit,
            &fingerprint,
            &who.principal.author(),
            form.comment.trim(),
        )
        .await?;
    Ok(see_other("/console/alerts"))
}

#[derive(Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    matchers: String,
    hours: u32,
    #[serde(default)]
    comment: String,
}

pub async fn silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SilenceForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(
        &req,
        &state,
        Permission::AcknowledgeAlerts,
        Some(&form.csrf),
    )
    .await?;
    let matchers = form
        .matchers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(Matcher::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ConsoleError::BadRequest)?;
    if form.hours == 0 || form.hours > 24 * 365 {
        return Err(ConsoleError::BadRequest(
            "a silence lasts 1 hour to a year".into(),
        ));
    }
    let ends = state.uc.alerts.clock.now() + Duration::hours(i64::from(form.hours));
    state
        .uc
        .alerts
        .create_silence(
            &who.audit,
            matchers,
            None,
            ends,
            &who.principal.author(),
            form.comment.trim(),
        )
        .await?;
    Ok(see_other("/console/alerts#silences"))
}

pub async fn expire(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(
        &req,
        &state,
        Permission::AcknowledgeAlerts,
        Some(&form.csrf),
    )
    .await?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ConsoleError::NotFound("silence not found".into()))?;
    state.uc.alerts.expire_silence(&who.audit, id).await?;
    Ok(see_other("/console/alerts#silences"))
}

pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::EditAlertRules, Some(&form.csrf)).await?;
    let (name, what) = path.into_inner();
    let on = match what.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(ConsoleError::NotFound(format!("no action {what}"))),
    };
    state.uc.rules.set_enabled(&who.audit, &name, on).await?;
    Ok(see_other("/console/alerts#rules"))
}

fn rule_editor(who: &ConsoleCaller, name: &str, text: &str, error: Option<&str>) -> Markup {
    layout::page(
        "Edit rule",
        Nav::Alerts,
        who,
        html! {
            div.pagehead { h1 { "Rule " (name) } p { a href="/console/alerts#rules" { "Back to the alerts" } } }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.editor method="post" action=(format!("/console/alerts/rules/{name}")) {
                (csrf(who))
                label for="rule" { "The rule, as in a rule file (TOML)" }
                textarea #rule name="text" rows="24" spellcheck="false" { (text) }
                button type="submit" { "Save" }
            }
            p.muted { "Checked before it is saved: a rule that does not parse or names an unknown family or column is refused with the reason. `pganalytics-server rules check` checks a file the same way." }
        },
    )
}

pub async fn rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::EditAlertRules, None).await?;
    let text = state.uc.rules.export_one(&name).await?;
    Ok(render(rule_editor(&who, &name, &text, None)))
}

#[derive(Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

pub async fn save_rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, ConsoleError> {
    let who = caller(&req, &state, Permission::EditAlertRules, Some(&form.csrf)).await?;
    let refused = |e: String| {
        HttpResponse::BadRequest()
            .content_type("text/html; charset=utf-8")
            .body(rule_editor(&who, &name, &form.text, Some(&e)).into_string())
    };
    match state
        .uc
        .rules
        .update_from_text(&who.audit, &name, &form.text)
        .await
    {
        Ok(_) => Ok(see_other("/console/alerts#rules")),
        Err(RuleError::Store(e)) => Err(e.into()),
        Err(e) => Ok(refused(e.to_string())),
    }
}
