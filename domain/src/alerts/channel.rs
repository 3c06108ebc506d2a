//! Notification channels: where alerts go (a webhook, Slack, e-mail, PagerDuty,
//! Alertmanager), which alerts (a route), and the messages each receives. Pure: the
//! notifier adapters send what is built here.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::matcher::{Matcher, all_match};
use super::rule::Severity;
use super::span::Span;
use super::state::TransitionKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// JSON with an HMAC-SHA256 signature and timestamp headers.
    Webhook,
    /// A Slack-compatible incoming webhook (its URL is the secret).
    Slack,
    /// E-mail over SMTP with STARTTLS.
    Email,
    /// PagerDuty Events API v2 (the routing key is the secret).
    Pagerduty,
    /// Prometheus Alertmanager's `POST /api/v2/alerts`.
    Alertmanager,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Email => "email",
            Self::Pagerduty => "pagerduty",
            Self::Alertmanager => "alertmanager",
        }
    }
}

/// Which alerts a channel receives, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The least severity sent.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Matchers on the alert's labels (`server`, `rule`-level labels such as `area`, …).
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// A firing alert nobody acknowledged is sent again this often; none: only once.
    #[serde(default)]
    pub repeat_interval: Option<Span>,
    /// Transitions of one rule within this wait go out as one message.
    #[serde(default = "default_group_wait")]
    pub group_wait: Span,
}

fn default_min_severity() -> Severity {
    Severity::Warning
}
fn default_group_wait() -> Span {
    Span::seconds(10)
}
fn yes() -> bool {
    true
}

impl Default for Route {
    fn default() -> Self {
        Self {
            min_severity: default_min_severity(),
            matchers: Vec::new(),
            send_resolved: true,
            repeat_interval: None,
            group_wait: default_group_wait(),
        }
    }
}

impl Route {
    /// Whether a transition of an alert with these labels and severity goes to the channel.
    pub fn wants(
        &self,
        kind: TransitionKind,
        severity: Severity,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        if kind == TransitionKind::Resolved && !self.send_resolved {
            return false;
        }
        if kind == TransitionKind::Repeated && self.repeat_interval.is_none() {
            return false;
        }
        severity >= self.min_severity && all_match(&self.matchers, labels)
    }
}

/// Settings of a channel that are not secret (shown by the API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// Webhook, Alertmanager and (optionally) PagerDuty endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// PEM of a CA to trust for this channel's TLS (a private SMTP relay or receiver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    pub enabled: bool,
    pub settings: ChannelSettings,
    pub route: Route,
    /// Whether a secret is set (the secret itself is never shown).
    pub has_secret: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Checks a channel's name, settings and whether it has the secret its kind needs.
///
/// # Errors
/// The first problem, naming the field.
pub fn validate(
    name: &str,
    kind: ChannelKind,
    s: &ChannelSettings,
    has_secret: bool,
) -> Result<(), (String, String)> {
    let bad = |f: &str, m: String| Err((f.to_owned(), m));
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return bad(
            "name",
            "a channel needs a name of at most 100 plain characters".into(),
        );
    }
    let url_needed = matches!(kind, ChannelKind::Webhook | ChannelKind::Alertmanager);
    match (&s.url, url_needed) {
        (None, true) => {
            return bad(
                "settings.url",
                format!("a {} channel needs a `url`", kind.as_str()),
            );
        }
        (Some(u), _) => {
            if let Err(m) = check_http_url(u) {
                return bad("settings.url", m);
            }
        }
        _ => {}
    }
    match kind {
        ChannelKind::Email => {
            if s.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
                return bad(
                    "settings.smtp_host",
                    "an e-mail channel needs `smtp_host`".into(),
                );
            }
            let addresses = s.from.iter().chain(s.to.iter());
            if s.from.is_none() || s.to.is_empty() {
                return bad(
                    "settings.to",
                    "an e-mail channel needs `from` and at least one `to`".into(),
                );
            }
            for a in addresses {
                if !a.contains('@') || a.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return bad("settings.to", format!("{a:?} is not an e-mail address"));
                }
            }
        }
        ChannelKind::Slack | ChannelKind::Pagerduty if !has_secret => {
            return bad(
                "secret",
                format!(
                    "a {} channel needs its {} as `secret`",
                    kind.as_str(),
                    if kind == ChannelKind::Slack {
                        "webhook URL"
                    } else {
                        "routing key"
                    }
                ),
            );
        }
        ChannelKind::Webhook if !has_secret => {
            return bad(
                "secret",
                "a webhook channel needs a `secret` to sign with (HMAC-SHA256)".into(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// An http(s) URL with a host, and nothing else.
///
/// # Errors
/// Why it is not one.
pub fn check_http_url(u: &str) -> Result<(), String> {
    let parsed = url::Url::parse(u).map_err(|e| format!("{u:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs are allowed, not {}:",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// One alert in a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifiedAlert {
    /// The transition's id: receivers drop one they have seen (the idempotency key).
    pub transition_id: Uuid,
    pub fingerprint: String,
    pub rule: String,
    pub kind: TransitionKind,
    pub severity: Severity,
    pub summary: String,
    pub description: String,
    pub runbook: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub active_since: OffsetDateTime,
}

/// What one delivery sends: the alerts of one rule grouped, one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The deliveries this message settles; its idempotency key is derived from them.
    pub delivery_ids: Vec<Uuid>,
    pub alerts: Vec<NotifiedAlert>,
}

impl Message {
    /// Stable for the same deliveries: a resend after a crash carries the same key.
    pub fn idempotency_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut ids = self.delivery_ids.clone();
        ids.sort();
        let mut h = Sha256::new();
        for id in ids {
            h.update(id.as_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }

    fn title(&self) -> String {
        let first = &self.alerts[0];
        let state = match first.kind {
            TransitionKind::Resolved => "RESOLVED",
            TransitionKind::Acknowledged => "ACKNOWLEDGED",
            _ => "FIRING",
        };
        let more = if self.alerts.len() > 1 {
            format!(" (+{} more)", self.alerts.len() - 1)
        } else {
            String::new()
        };
        format!(
            "[{state}:{}] {}{more}",
            first.severity.as_str().to_uppercase(),
            first.summary
        )
    }

    /// The webhook's JSON body.
    pub fn webhook_body(&self) -> Value {
        json!({
            "version": "1",
            "idempotency_key": self.idempotency_key(),
            "title": self.title(),
            "alerts": self.alerts,
        })
    }

    /// A Slack-compatible body (`text` plus attachments).
    pub fn slack_body(&self) -> Value {
        let lines: Vec<String> = self
            .alerts
            .iter()
            .map(|a| {
                format!(
                    "*{}* {} — {}{}",
                    a.kind.as_str(),
                    a.severity.as_str(),
                    a.summary,
                    if a.runbook.is_empty() {
                        String::new()
                    } else {
                        format!("\n_{}_", a.runbook)
                    }
                )
            })
            .collect();
        json!({ "text": format!("{}\n{}", self.title(), lines.join("\n")) })
    }

    /// The e-mail's subject and plain-text body.
    pub fn email(&self) -> (String, String) {
        let mut body = String::new();
        for a in &self.alerts {
            body.push_str(&format!(
                "{} ({}, {})\n{}\n",
                a.summary,
                a.severity.as_str(),
                a.kind.as_str(),
                a.description
            ));
            if !a.runbook.is_empty() {
                body.push_str(&format!("What to do: {}\n", a.runbook));
            }
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            body.push_str(&format!(
                "Rule: {}  Value: {}  Since: {}\nLabels: {}\n\n",
                a.rule,
                a.value,
                a.active_since.format(&Rfc3339).unwrap_or_default(),
                labels.join(", ")
            ));
        }
        (self.title(), body)
    }

    /// PagerDuty Events v2: one event per alert, deduplicated by the alert's fingerprint.
    pub fn pagerduty_events(&self, routing_key: &str) -> Vec<Value> {
        self.alerts
            .iter()
            .map(|a| {
                let action = match a.kind {
                    TransitionKind::Resolved => "resolve",
                    TransitionKind::Acknowledged => "acknowledge",
                    _ => "trigger",
                };
                json!({
                    "routing_key": routing_key,
                    "event_action": action,
                    "dedup_key": a.fingerprint,
                    "payload": {
                        "summary": a.summary,
                        "source": a.labels.get("server").or(a.labels.get("collector")).cloned().unwrap_or_else(|| "pganalytics".into()),
                        "severity": match a.severity { Severity::Critical => "critical", Severity::Warning => "warning", Severity::Info => "info" },
                        "timestamp": a.at.format(&Rfc3339).unwrap_or_default(),
                        "component": a.labels.get("datname").cloned().unwrap_or_default(),
                        "group": a.labels.get("area").cloned().unwrap_or_default(),
                        "class": a.rule,
                        "custom_details": { "labels": a.labels, "value": a.value, "description": a.description, "runbook": a.runbook },
                    },
                })
            })
            .collect()
    }

    /// Alertmanager's `POST /api/v2/alerts` body: a resolved alert carries its end.
    pub fn alertmanager_body(&self, generator_url: &str) -> Value {
        Value::Array(
            self.alerts
                .iter()
                .map(|a| {
                    let mut labels = a.labels.clone();
                    labels.insert("alertname".into(), a.rule.clone());
                    labels.insert("severity".into(), a.severity.as_str().into());
                    let mut alert = json!({
                        "labels": labels,
                        "annotations": {
                            "summary": a.summary,
                            "description": a.description,
                            "runbook": a.runbook,
                        },
                        "startsAt": a.active_since.format(&Rfc3339).unwrap_or_default(),
                    });
                    if !generator_url.is_empty() {
                        alert["generatorURL"] = json!(generator_url);
                    }
                    if a.kind == TransitionKind::Resolved {
                        alert["endsAt"] = json!(a.at.format(&Rfc3339).unwrap_or_default());
                    }
                    alert
                })
                .collect(),
        )
    }
}

/// The status of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Gave up after the last retry.
    Failed,
    /// A silence or maintenance window covered the alert: recorded, not sent.
    Suppressed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            "suppressed" => Some(Self::Suppressed),
            _ => None,
        }
    }
}

/// Retries: 10 s doubling up to 10 minutes, for a day; then the delivery failed.
pub fn retry_after(attempts: u32) -> Option<time::Duration> {
    const GIVE_UP: i64 = 86_400;
    let mut total = 0i64;
    let mut next = 10i64;
    for _ in 0..attempts {
        total += next;
        next = (next * 2).min(600);
    }
    (total < GIVE_UP).then(|| time::Duration::seconds(next))
}
