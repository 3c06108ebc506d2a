use pganalytics_domain::alerts::channel::{Channel, ChannelKind, ChannelSettings, Route};
use pganalytics_ports::usecases::alerts::ChannelInput;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A channel as given: the secret is optional on a change (absent keeps the stored one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NotificationChannelInput)]
pub struct Body {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `url` (webhook, Alertmanager, PagerDuty's endpoint), `smtp_host`, `smtp_port`,
    /// `smtp_username`, `from`, `to`, `ca_pem` (a private CA to trust).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: ChannelSettings,
    /// `min_severity`, `matchers`, `send_resolved`, `repeat_interval`, `group_wait`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub route: Route,
    /// The webhook's signing secret, the Slack webhook URL, the SMTP password, the PagerDuty
    /// routing key, or an Alertmanager bearer token. Never returned.
    #[schema(value_type = Option<String>, write_only)]
    pub secret: Option<SecretString>,
}

fn yes() -> bool {
    true
}

impl From<Body> for ChannelInput {
    fn from(b: Body) -> Self {
        Self {
            name: b.name,
            kind: b.kind,
            enabled: b.enabled,
            settings: b.settings,
            route: b.route,
            secret: b.secret,
        }
    }
}

/// A channel as shown: `has_secret` says whether a secret is set, never what it is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NotificationChannel)]
pub struct ChannelView {
    id: uuid::Uuid,
    name: String,
    kind: ChannelKind,
    enabled: bool,
    #[schema(value_type = Object)]
    settings: ChannelSettings,
    #[schema(value_type = Object)]
    route: Route,
    has_secret: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id,
            name: c.name,
            kind: c.kind,
            enabled: c.enabled,
            settings: c.settings,
            route: c.route,
            has_secret: c.has_secret,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
