//! The life of one alert (a rule and a label set): inactive → pending → firing → resolved.
//!
//! A condition must hold for the rule's `for` before the alert fires; once firing it stays
//! firing at least `min_firing`, so a value flapping around its threshold pages once, not
//! twice a minute. An acknowledgement mutes repeats until the alert resolves (or escalates).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use time::OffsetDateTime;

use super::eval::Observation;
use super::rule::{Rule, Severity};
use super::template::Values;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pending,
    Firing,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "firing" => Some(Self::Firing),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ack {
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub comment: String,
}

/// An alert as the store keeps it (and the API shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertState {
    pub fingerprint: String,
    pub rule: String,
    pub server_id: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub phase: Phase,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub summary: String,
    pub description: String,
    /// When the condition began to hold (this episode).
    #[serde(with = "time::serde::rfc3339")]
    pub active_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub firing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_evaluated: OffsetDateTime,
    pub ack: Option<Ack>,
}

/// A change that is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Firing,
    /// Still firing, at another severity.
    Escalated,
    /// Still firing, unacknowledged, and a channel's repeat interval has passed.
    Repeated,
    /// Someone acknowledged it (PagerDuty's `acknowledge`).
    Acknowledged,
    Resolved,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Escalated => "escalated",
            Self::Repeated => "repeated",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(Self::Firing),
            "escalated" => Some(Self::Escalated),
            "repeated" => Some(Self::Repeated),
            "acknowledged" => Some(Self::Acknowledged),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// The stable identity of an alert: its rule and label set.
pub fn fingerprint(rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    for (k, v) in labels {
        h.update([0]);
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

/// The next state of an alert, and the transition to notify if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    /// `None`: inactive (a pending alert whose condition stopped holding is forgotten).
    pub state: Option<AlertState>,
    pub transition: Option<TransitionKind>,
}

/// Moves an alert on by one evaluation: `observation` is `Some` when its condition holds now.
pub fn advance(
    prev: Option<AlertState>,
    observation: Option<&Observation>,
    rule: &Rule,
    fingerprint: &str,
    now: OffsetDateTime,
) -> Advance {
    let hold_for = rule.spec.for_.duration();
    match (prev, observation) {
        (None, None) => Advance {
            state: None,
            transition: None,
        },
        (Some(s), None) => match s.phase {
            Phase::Pending => Advance {
                state: None,
                transition: None,
            },
            Phase::Resolved => Advance {
                state: Some(s),
                transition: None,
            },
            Phase::Firing => {
                let since = s.firing_since.unwrap_or(s.active_since);
                if now - since < rule.min_firing.duration() {
                    // Held: stays firing until it has fired long enough.
                    return Advance {
                        state: Some(AlertState {
                            last_evaluated: now,
                            ..s
                        }),
                        transition: None,
                    };
                }
                Advance {
                    state: Some(AlertState {
                        phase: Phase::Resolved,
                        resolved_at: Some(now),
                        last_evaluated: now,
                        ack: None,
                        ..s
                    }),
                    transition: Some(TransitionKind::Resolved),
                }
            }
        },
        (prev, Some(o)) => {
            let texts = |severity: Severity| render(rule, o, severity);
            match prev {
                Some(s) if s.phase == Phase::Firing => {
                    let escalated = o.severity != s.severity;
                    let (summary, description) = texts(o.severity);
                    Advance {
                        state: Some(AlertState {
                            severity: o.severity,
                            value: o.value,
                            threshold: o.threshold,
                            summary,
                            description,
                            last_evaluated: now,
                            ack: if o.severity > s.severity {
                                None
                            } else {
                                s.ack.clone()
                            },
                            ..s
                        }),
                        transition: escalated.then_some(TransitionKind::Escalated),
                    }
                }
                Some(s) if s.phase == Phase::Pending => {
                    let fire = now - s.active_since >= hold_for;
                    let (summary, description) = texts(o.severity);
                    Advance {
                        state: Some(AlertState {
                            phase: if fire { Phase::Firing } else { Phase::Pending },
                            firing_since: fire.then_some(now),
                            severity: o.severity,
                            value: o.value,
                            threshold: o.threshold,
                            summary,
                            description,
                            last_evaluated: now,
                            ..s
                        }),
                        transition: fire.then_some(TransitionKind::Firing),
                    }
                }
                _ => {
                    let fire = hold_for.is_zero();
                    let (summary, description) = texts(o.severity);
                    Advance {
                        state: Some(AlertState {
                            fingerprint: fingerprint.to_owned(),
                            rule: rule.name().to_owned(),
                            server_id: o.server_id,
                            labels: o.labels.clone(),
                            phase: if fire { Phase::Firing } else { Phase::Pending },
                            severity: o.severity,
                            value: o.value,
                            threshold: o.threshold,
                            summary,
                            description,
                            active_since: now,
                            firing_since: fire.then_some(now),
                            resolved_at: None,
                            last_evaluated: now,
                            ack: None,
                        }),
                        transition: fire.then_some(TransitionKind::Firing),
                    }
                }
            }
        }
    }
}

fn render(rule: &Rule, o: &Observation, severity: Severity) -> (String, String) {
    let v = Values {
        labels: &o.labels,
        value: o.value,
        threshold: o.threshold,
        severity: severity.as_str(),
        rule: rule.name(),
    };
    (rule.summary.render(&v), rule.description.render(&v))
}
