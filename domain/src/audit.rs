//! The audit trail: who changed what, when, from where, and how it ended. Every mutation
//! writes one entry in the same transaction as the change itself; refused attempts at a
//! mutation write one too.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::access::Role;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// `user`, `api_token`, `collector`, `registration_token`, `cli` or `anonymous`.
    pub kind: ActorKind,
    /// The user id, token id or collector id; none for the CLI or an anonymous caller.
    pub id: Option<String>,
    /// A readable name: the user name, the token's prefix, the collector's name.
    pub name: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiToken,
    Collector,
    RegistrationToken,
    Cli,
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiToken => "api_token",
            Self::Collector => "collector",
            Self::RegistrationToken => "registration_token",
            Self::Cli => "cli",
            Self::Anonymous => "anonymous",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::User,
            Self::ApiToken,
            Self::Collector,
            Self::RegistrationToken,
            Self::Cli,
            Self::Anonymous,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl Actor {
    /// The server's own command line, run by `name` (the OS user, when known).
    pub fn cli(name: Option<String>) -> Self {
        Self {
            kind: ActorKind::Cli,
            id: None,
            name,
            role: Some(Role::Admin),
        }
    }
    pub fn anonymous() -> Self {
        Self {
            kind: ActorKind::Anonymous,
            id: None,
            name: None,
            role: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused: not allowed, or bad credentials.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// Where a request came from, carried from the HTTP edge to the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// Who is acting and from where: what every audited use case is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: Actor,
    pub origin: Origin,
}

impl AuditContext {
    pub fn cli(name: Option<String>) -> Self {
        Self {
            actor: Actor::cli(name),
            origin: Origin::default(),
        }
    }

    /// The entry for `action` on `target` at `now`, successful unless changed.
    pub fn entry(&self, action: &str, target: Option<String>, now: OffsetDateTime) -> AuditEntry {
        AuditEntry {
            at: now,
            actor: self.actor.clone(),
            address: self.origin.address.clone(),
            request_id: self.origin.request_id.clone(),
            action: action.to_owned(),
            target,
            outcome: Outcome::Success,
            details: BTreeMap::new(),
        }
    }
}

/// One audit entry. `details` hold what changed (never a secret: a token's prefix, a role,
/// a configuration version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// `<resource>.<verb>`: `user.create`, `api_token.revoke`, `collector.config.update`…
    pub action: String,
    /// `<resource>:<id>`.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub details: BTreeMap<String, String>,
}

impl AuditEntry {
    pub fn detail(mut self, key: &str, value: impl ToString) -> Self {
        self.details.insert(key.to_owned(), value.to_string());
        self
    }
    pub fn denied(mut self) -> Self {
        self.outcome = Outcome::Denied;
        self
    }
}

/// A stored entry: the id orders entries and is the pagination cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredAuditEntry {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which entries to read: newest first, strictly older than `before_id` when given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<String>,
    /// An exact action, or a prefix ending in `.` (`user.` for every user action).
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub before_id: Option<i64>,
    pub limit: usize,
}

impl AuditQuery {
    pub const MAX_LIMIT: usize = 1000;

    /// Whether `e` (with id `id`) is selected: the one definition the in-memory store uses
    /// and the SQL store mirrors.
    pub fn matches(&self, id: i64, e: &AuditEntry) -> bool {
        let action_ok = self.action.as_deref().is_none_or(|a| {
            if a.ends_with('.') {
                e.action.starts_with(a)
            } else {
                e.action == a
            }
        });
        self.actor_kind.is_none_or(|k| e.actor.kind == k)
            && self
                .actor_id
                .as_deref()
                .is_none_or(|a| e.actor.id.as_deref() == Some(a))
            && action_ok
            && self
                .target
                .as_deref()
                .is_none_or(|t| e.target.as_deref() == Some(t))
            && self.outcome.is_none_or(|o| e.outcome == o)
            && self.since.is_none_or(|s| e.at >= s)
            && self.until.is_none_or(|u| e.at < u)
            && self.before_id.is_none_or(|b| id < b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditContext::cli(None).entry(action, Some("user:1".into()), OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn an_action_filter_ending_in_a_dot_is_a_prefix() {
        let q = AuditQuery {
            action: Some("user.".into()),
            ..AuditQuery::default()
        };
        assert!(q.matches(1, &entry("user.create")));
        assert!(!q.matches(1, &entry("api_token.create")));
        let exact = AuditQuery {
            action: Some("user".into()),
            ..AuditQuery::default()
        };
        assert!(!exact.matches(1, &entry("user.create")));
    }

    #[test]
    fn the_cursor_selects_strictly_older_entries() {
        let q = AuditQuery {
            before_id: Some(5),
            ..AuditQuery::default()
        };
        assert!(q.matches(4, &entry("x.y")));
        assert!(!q.matches(5, &entry("x.y")));
    }

    #[test]
    fn kinds_and_outcomes_round_trip() {
        for k in [
            ActorKind::User,
            ActorKind::Cli,
            ActorKind::RegistrationToken,
        ] {
            assert_eq!(ActorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Outcome::parse("denied"), Some(Outcome::Denied));
        assert_eq!(Outcome::parse("nope"), None);
    }
}
