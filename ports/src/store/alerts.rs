//! Stores for alerting: rules, alerts with their transitions, silences, maintenance windows,
//! notification channels and their deliveries.

use async_trait::async_trait;
use pganalytics_domain::alerts::RuleSpec;
use pganalytics_domain::alerts::Severity;
use pganalytics_domain::alerts::channel::{Channel, DeliveryStatus};
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence};
use pganalytics_domain::alerts::state::{Ack, AlertState, Phase, TransitionKind};
use pganalytics_domain::audit::AuditEntry;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// A rule as stored: its definition and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub spec: RuleSpec,
    /// Shipped with the server (`domain/rules/`).
    pub builtin: bool,
    /// A built-in someone changed: upgrades leave it alone.
    pub edited: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The last evaluation's error, if it failed.
    pub last_error: Option<String>,
    pub last_evaluated: Option<OffsetDateTime>,
}

/// A notified change of an alert, as recorded: with what its notification says, so a
/// delivery sends what was true at the transition even if the rule changed since.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    pub id: Uuid,
    pub fingerprint: String,
    pub rule: String,
    pub kind: TransitionKind,
    pub severity: Severity,
    pub value: f64,
    pub summary: String,
    pub description: String,
    pub runbook: String,
    pub labels: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub active_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A notification waiting for (or done with) one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub transition: Transition,
    pub channel_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// What one evaluation changes about one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub fingerprint: String,
    /// The new state; `None` forgets the alert (a pending one that cleared).
    pub state: Option<AlertState>,
    /// The transition to record, with a delivery queued for each channel in `notify`.
    pub transition: Option<(Transition, Vec<QueuedDelivery>)>,
}

/// A delivery to queue with a transition.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedDelivery {
    pub id: Uuid,
    pub channel_id: Uuid,
    /// `Pending`, or `Suppressed` when a silence or maintenance window covers the alert.
    pub status: DeliveryStatus,
    /// Not before this (grouping waits a little for the rule's other alerts).
    pub not_before: OffsetDateTime,
}

/// Filters of the alert list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFilter {
    pub phase: Option<Phase>,
    pub severity: Option<Severity>,
    pub server_id: Option<i64>,
    pub rule: Option<String>,
    pub limit: usize,
}

impl AlertFilter {
    pub fn matches(&self, a: &AlertState) -> bool {
        self.phase.is_none_or(|p| a.phase == p)
            && self.severity.is_none_or(|s| a.severity == s)
            && self.server_id.is_none_or(|s| a.server_id == Some(s))
            && self.rule.as_ref().is_none_or(|r| &a.rule == r)
    }
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered { at: OffsetDateTime },
    Retry { at: OffsetDateTime, error: String },
    Failed { error: String },
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AlertRuleStore: Send + Sync {
    /// Every rule, by name.
    async fn list_rules(&self) -> Result<Vec<StoredRule>, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown name.
    async fn get_rule(&self, name: &str) -> Result<StoredRule, StoreError>;

    /// # Errors
    /// MUST return `Conflict` when a rule of this name exists.
    async fn create_rule(&self, rule: &StoredRule, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Replaces the rule's definition (the name stays); a built-in becomes `edited`.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown name.
    async fn update_rule(
        &self,
        name: &str,
        spec: &RuleSpec,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<StoredRule, StoreError>;

    /// Deletes the rule with its alerts (their transitions and deliveries stay as history).
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown name.
    async fn delete_rule(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Adds each built-in whose name was never seeded before (so an upgrade adds new rules,
    /// and neither an edit nor a deletion is undone); returns the names added. Atomic, also
    /// when two servers start at once.
    async fn seed_builtin_rules(
        &self,
        rules: &[RuleSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError>;

    /// Creates or replaces each rule by name (an import), in one transaction; a replaced
    /// built-in becomes `edited`.
    async fn upsert_rules(
        &self,
        rules: &[StoredRule],
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Records the outcome of the rule's last evaluation.
    async fn record_rule_run(
        &self,
        name: &str,
        at: OffsetDateTime,
        error: Option<String>,
    ) -> Result<(), StoreError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Every alert of the rule that is pending, firing or resolved (one per label set).
    async fn rule_alerts(&self, rule: &str) -> Result<Vec<AlertState>, StoreError>;

    /// Applies one evaluation of one rule: every change, its transitions and their queued
    /// deliveries, in one transaction: all or nothing.
    async fn apply_evaluation(&self, changes: &[AlertChange]) -> Result<(), StoreError>;

    /// Alerts matching the filter, most recent change first.
    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertState>, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown fingerprint.
    async fn get_alert(&self, fingerprint: &str) -> Result<AlertState, StoreError>;

    /// The alert's transitions, newest first.
    async fn alert_history(
        &self,
        fingerprint: &str,
        limit: usize,
    ) -> Result<Vec<Transition>, StoreError>;

    /// Acknowledges a firing alert, recording `transition` with its deliveries in the same
    /// transaction.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown fingerprint and `Conflict` when it is not firing
    /// or already acknowledged; nothing changes then.
    async fn ack_alert(
        &self,
        fingerprint: &str,
        ack: &Ack,
        transition: &(Transition, Vec<QueuedDelivery>),
        audit: &AuditEntry,
    ) -> Result<AlertState, StoreError>;

    /// Forgets resolved alerts resolved before `before`; returns how many.
    async fn prune_resolved(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// # Errors
    /// MUST return `Conflict` for an existing id.
    async fn create_silence(&self, silence: &Silence, audit: &AuditEntry)
    -> Result<(), StoreError>;

    /// Silences that end after `since`, newest first.
    async fn list_silences(&self, since: OffsetDateTime) -> Result<Vec<Silence>, StoreError>;

    /// Ends a silence now (its end moves to `now` if later).
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn expire_silence(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Silence, StoreError>;

    /// # Errors
    /// MUST return `Conflict` for an existing id.
    async fn create_maintenance(
        &self,
        window: &MaintenanceWindow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Windows that end after `since`.
    async fn list_maintenance(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<MaintenanceWindow>, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn delete_maintenance(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError>;
}

/// A channel as stored: its sealed secret is never decrypted by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChannel {
    pub channel: Channel,
    /// The secret sealed by the `SecretCipher` (purpose `notification-channel`).
    pub sealed_secret: Option<String>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// # Errors
    /// MUST return `Conflict` when a channel with this id or name exists.
    async fn create_channel(
        &self,
        channel: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Every channel, by name.
    async fn list_channels(&self) -> Result<Vec<StoredChannel>, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn get_channel(&self, id: Uuid) -> Result<StoredChannel, StoreError>;

    /// Replaces the channel (same id).
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id, `Conflict` when another channel has the name.
    async fn update_channel(
        &self,
        channel: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a channel's sealed secret (key rotation), only while it still is `old`: a
    /// rotation that raced an edit leaves the edit. Whether it was replaced.
    async fn reseal_channel_secret(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;

    /// Deletes the channel and its undelivered deliveries.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn delete_channel(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Pending deliveries due at `now` (`next_attempt_at <= now`), oldest first; at most
    /// `limit`. Marks each as taken until `lease_until`, so two servers never send the same
    /// delivery at once (a crashed sender's lease runs out and another takes over).
    async fn take_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Queues a delivery of a transition made up for a channel test.
    async fn queue_test_delivery(
        &self,
        delivery: &Delivery,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Records how an attempt ended.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn finish_delivery(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<(), StoreError>;

    /// The channel's deliveries, newest first.
    async fn list_deliveries(
        &self,
        channel_id: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// The last delivered (or queued) time per (alert fingerprint, channel) of firing
    /// alerts, for repeat notifications.
    async fn last_notified(
        &self,
        fingerprints: &[String],
    ) -> Result<BTreeMap<(String, Uuid), OffsetDateTime>, StoreError>;
}
