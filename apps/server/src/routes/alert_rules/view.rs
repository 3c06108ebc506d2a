use pganalytics_ports::store::StoredRule;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A rule with where it came from and how its last evaluation went.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AlertRule)]
pub struct RuleView {
    /// The rule as in a rule file (`name`, `severity`, `for`, `summary`, `condition`, …).
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    pub enabled: bool,
    /// Shipped with the server.
    pub builtin: bool,
    /// A built-in someone changed: upgrades leave it alone.
    pub edited: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_evaluated: Option<OffsetDateTime>,
    /// Why the last evaluation failed, if it did.
    pub last_error: Option<String>,
}

impl From<StoredRule> for RuleView {
    fn from(r: StoredRule) -> Self {
        Self {
            enabled: r.spec.enabled,
            rule: serde_json::to_value(&r.spec).unwrap_or_default(),
            builtin: r.builtin,
            edited: r.edited,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_evaluated: r.last_evaluated,
            last_error: r.last_error,
        }
    }
}
