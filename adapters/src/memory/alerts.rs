//! Alerting in memory: rules, alerts, transitions, silences, maintenance windows, channels
//! and deliveries, under the same contracts as PostgreSQL.

use async_trait::async_trait;
use pganalytics_domain::alerts::RuleSpec;
use pganalytics_domain::alerts::channel::DeliveryStatus;
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence};
use pganalytics_domain::alerts::state::{Ack, AlertState, Phase};
use pganalytics_domain::audit::AuditEntry;
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    AlertChange, AlertFilter, AlertRuleStore, AlertStore, ChannelStore, Delivery, DeliveryOutcome,
    LeaderLease, QueuedDelivery, StoredChannel, StoredRule, Transition,
};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{MemoryStore, State, not_found};

#[derive(Debug, Default)]
pub(super) struct Alerting {
    rules: BTreeMap<String, StoredRule>,
    /// Built-in names ever seeded: a deleted built-in is not brought back.
    seeded: BTreeSet<String>,
    alerts: BTreeMap<String, AlertState>,
    transitions: Vec<Transition>,
    silences: Vec<Silence>,
    maintenance: Vec<MaintenanceWindow>,
    channels: BTreeMap<Uuid, StoredChannel>,
    /// Deliveries with the time their lease runs out.
    deliveries: Vec<(Delivery, Option<OffsetDateTime>)>,
}

impl Alerting {
    fn record(&mut self, t: &Transition, queued: &[QueuedDelivery]) {
        self.transitions.push(t.clone());
        for q in queued {
            self.deliveries.push((
                Delivery {
                    id: q.id,
                    transition: t.clone(),
                    channel_id: q.channel_id,
                    status: q.status,
                    attempts: 0,
                    next_attempt_at: q.not_before,
                    last_error: None,
                    delivered_at: None,
                    created_at: t.at,
                },
                None,
            ));
        }
    }
}

fn conflict(entity: &'static str) -> StoreError {
    StoreError::Conflict { entity }
}

impl State {
    fn alerting(&mut self) -> &mut Alerting {
        &mut self.alerting
    }
}

#[async_trait]
impl AlertRuleStore for MemoryStore {
    async fn list_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        Ok(self.lock().alerting.rules.values().cloned().collect())
    }

    async fn get_rule(&self, name: &str) -> Result<StoredRule, StoreError> {
        self.lock()
            .alerting
            .rules
            .get(name)
            .cloned()
            .ok_or(not_found("alert rule"))
    }

    async fn create_rule(&self, rule: &StoredRule, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting.rules.contains_key(&rule.spec.name) {
            return Err(conflict("alert rule"));
        }
        s.alerting()
            .rules
            .insert(rule.spec.name.clone(), rule.clone());
        s.audit(audit);
        Ok(())
    }

    async fn update_rule(
        &self,
        name: &str,
        spec: &RuleSpec,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<StoredRule, StoreError> {
        let mut s = self.lock();
        let r = s
            .alerting()
            .rules
            .get_mut(name)
            .ok_or(not_found("alert rule"))?;
        r.spec = spec.clone();
        r.edited = r.builtin;
        r.updated_at = now;
        let out = r.clone();
        s.audit(audit);
        Ok(out)
    }

    async fn delete_rule(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting().rules.remove(name).is_none() {
            return Err(not_found("alert rule"));
        }
        s.alerting().alerts.retain(|_, a| a.rule != name);
        s.audit(audit);
        Ok(())
    }

    async fn seed_builtin_rules(
        &self,
        rules: &[RuleSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut s = self.lock();
        let a = s.alerting();
        let mut added = Vec::new();
        for spec in rules {
            if !a.seeded.insert(spec.name.clone()) || a.rules.contains_key(&spec.name) {
                continue;
            }
            a.rules.insert(
                spec.name.clone(),
                StoredRule {
                    spec: spec.clone(),
                    builtin: true,
                    edited: false,
                    created_at: now,
                    updated_at: now,
                    last_error: None,
                    last_evaluated: None,
                },
            );
            added.push(spec.name.clone());
        }
        Ok(added)
    }

    async fn upsert_rules(
        &self,
        rules: &[StoredRule],
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        for r in rules {
            match s.alerting().rules.get_mut(&r.spec.name) {
                Some(existing) => {
                    existing.spec = r.spec.clone();
                    existing.edited = existing.builtin;
                    existing.updated_at = now;
                }
                None => {
                    s.alerting().rules.insert(r.spec.name.clone(), r.clone());
                }
            }
        }
        s.audit(audit);
        Ok(())
    }

    async fn record_rule_run(
        &self,
        name: &str,
        at: OffsetDateTime,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        if let Some(r) = self.lock().alerting().rules.get_mut(name) {
            r.last_evaluated = Some(at);
            r.last_error = error;
        }
        Ok(())
    }
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn rule_alerts(&self, rule: &str) -> Result<Vec<AlertState>, StoreError> {
        Ok(self
            .lock()
            .alerting
            .alerts
            .values()
            .filter(|a| a.rule == rule)
            .cloned()
            .collect())
    }

    async fn apply_evaluation(&self, changes: &[AlertChange]) -> Result<(), StoreError> {
        let mut s = self.lock();
        let a = s.alerting();
        for c in changes {
            match &c.state {
                Some(state) => {
                    a.alerts.insert(c.fingerprint.clone(), state.clone());
                }
                None => {
                    a.alerts.remove(&c.fingerprint);
                }
            }
            if let Some((t, queued)) = &c.transition {
                a.record(t, queued);
            }
        }
        Ok(())
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertState>, StoreError> {
        let s = self.lock();
        let mut out: Vec<AlertState> = s
            .alerting
            .alerts
            .values()
            .filter(|a| filter.matches(a))
            .cloned()
            .collect();
        out.sort_by(|x, y| {
            changed(y)
                .cmp(&changed(x))
                .then(x.fingerprint.cmp(&y.fingerprint))
        });
        out.truncate(filter.limit);
        Ok(out)
    }

    async fn get_alert(&self, fingerprint: &str) -> Result<AlertState, StoreError> {
        self.lock()
            .alerting
            .alerts
            .get(fingerprint)
            .cloned()
            .ok_or(not_found("alert"))
    }

    async fn alert_history(
        &self,
        fingerprint: &str,
        limit: usize,
    ) -> Result<Vec<Transition>, StoreError> {
        let s = self.lock();
        Ok(s.alerting
            .transitions
            .iter()
            .rev()
            .filter(|t| t.fingerprint == fingerprint)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ack_alert(
        &self,
        fingerprint: &str,
        ack: &Ack,
        transition: &(Transition, Vec<QueuedDelivery>),
        audit: &AuditEntry,
    ) -> Result<AlertState, StoreError> {
        let mut s = self.lock();
        let a = s.alerting();
        let alert = a.alerts.get_mut(fingerprint).ok_or(not_found("alert"))?;
        if alert.phase != Phase::Firing || alert.ack.is_some() {
            return Err(conflict("acknowledgement"));
        }
        alert.ack = Some(ack.clone());
        let out = alert.clone();
        a.record(&transition.0, &transition.1);
        s.audit(audit);
        Ok(out)
    }

    async fn prune_resolved(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut s = self.lock();
        let a = s.alerting();
        let n = a.alerts.len();
        a.alerts.retain(|_, x| {
            !(x.phase == Phase::Resolved && x.resolved_at.is_some_and(|t| t < before))
        });
        Ok((n - a.alerts.len()) as u64)
    }

    async fn create_silence(
        &self,
        silence: &Silence,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting.silences.iter().any(|x| x.id == silence.id) {
            return Err(conflict("silence"));
        }
        s.alerting().silences.push(silence.clone());
        s.audit(audit);
        Ok(())
    }

    async fn list_silences(&self, since: OffsetDateTime) -> Result<Vec<Silence>, StoreError> {
        let s = self.lock();
        let mut out: Vec<Silence> = s
            .alerting
            .silences
            .iter()
            .filter(|x| x.ends_at > since)
            .cloned()
            .collect();
        out.sort_by_key(|x| std::cmp::Reverse(x.starts_at));
        Ok(out)
    }

    async fn expire_silence(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Silence, StoreError> {
        let mut s = self.lock();
        let x = s
            .alerting()
            .silences
            .iter_mut()
            .find(|x| x.id == id)
            .ok_or(not_found("silence"))?;
        if x.ends_at > now {
            x.ends_at = now;
        }
        let out = x.clone();
        s.audit(audit);
        Ok(out)
    }

    async fn create_maintenance(
        &self,
        window: &MaintenanceWindow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting.maintenance.iter().any(|x| x.id == window.id) {
            return Err(conflict("maintenance window"));
        }
        s.alerting().maintenance.push(window.clone());
        s.audit(audit);
        Ok(())
    }

    async fn list_maintenance(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let s = self.lock();
        let mut out: Vec<MaintenanceWindow> = s
            .alerting
            .maintenance
            .iter()
            .filter(|x| x.ends_at > since)
            .cloned()
            .collect();
        out.sort_by_key(|x| x.starts_at);
        Ok(out)
    }

    async fn delete_maintenance(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        let before = s.alerting.maintenance.len();
        s.alerting().maintenance.retain(|x| x.id != id);
        if s.alerting.maintenance.len() == before {
            return Err(not_found("maintenance window"));
        }
        s.audit(audit);
        Ok(())
    }
}

/// When an alert last changed, for ordering lists.
fn changed(a: &AlertState) -> OffsetDateTime {
    a.resolved_at.or(a.firing_since).unwrap_or(a.active_since)
}

#[async_trait]
impl ChannelStore for MemoryStore {
    async fn create_channel(
        &self,
        channel: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting
            .channels
            .values()
            .any(|c| c.channel.id == channel.channel.id || c.channel.name == channel.channel.name)
        {
            return Err(conflict("notification channel"));
        }
        s.alerting()
            .channels
            .insert(channel.channel.id, channel.clone());
        s.audit(audit);
        Ok(())
    }

    async fn list_channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let mut out: Vec<StoredChannel> = self.lock().alerting.channels.values().cloned().collect();
        out.sort_by(|a, b| a.channel.name.cmp(&b.channel.name));
        Ok(out)
    }

    async fn get_channel(&self, id: Uuid) -> Result<StoredChannel, StoreError> {
        self.lock()
            .alerting
            .channels
            .get(&id)
            .cloned()
            .ok_or(not_found("notification channel"))
    }

    async fn update_channel(
        &self,
        channel: &StoredChannel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let id = channel.channel.id;
        if !s.alerting.channels.contains_key(&id) {
            return Err(not_found("notification channel"));
        }
        if s.alerting
            .channels
            .values()
            .any(|c| c.channel.id != id && c.channel.name == channel.channel.name)
        {
            return Err(conflict("notification channel"));
        }
        s.alerting().channels.insert(id, channel.clone());
        s.audit(audit);
        Ok(())
    }

    async fn reseal_channel_secret(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.alerting().channels.get_mut(&id) {
            Some(c) if c.sealed_secret.as_deref() == Some(old) => {
                c.sealed_secret = Some(new.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_channel(&self, id: Uuid, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.alerting().channels.remove(&id).is_none() {
            return Err(not_found("notification channel"));
        }
        s.alerting()
            .deliveries
            .retain(|(d, _)| d.channel_id != id || d.status != DeliveryStatus::Pending);
        s.audit(audit);
        Ok(())
    }

    async fn take_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut s = self.lock();
        let mut out = Vec::new();
        for (d, lease) in s.alerting().deliveries.iter_mut() {
            if out.len() == limit {
                break;
            }
            if d.status == DeliveryStatus::Pending
                && d.next_attempt_at <= now
                && lease.is_none_or(|l| l <= now)
            {
                *lease = Some(lease_until);
                out.push(d.clone());
            }
        }
        Ok(out)
    }

    async fn queue_test_delivery(
        &self,
        delivery: &Delivery,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.alerting().transitions.push(delivery.transition.clone());
        s.alerting().deliveries.push((delivery.clone(), None));
        s.audit(audit);
        Ok(())
    }

    async fn finish_delivery(&self, id: Uuid, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        let mut s = self.lock();
        let (d, lease) = s
            .alerting()
            .deliveries
            .iter_mut()
            .find(|(d, _)| d.id == id)
            .ok_or(not_found("delivery"))?;
        d.attempts += 1;
        *lease = None;
        match outcome {
            DeliveryOutcome::Delivered { at } => {
                d.status = DeliveryStatus::Delivered;
                d.delivered_at = Some(*at);
                d.last_error = None;
            }
            DeliveryOutcome::Retry { at, error } => {
                d.next_attempt_at = *at;
                d.last_error = Some(error.clone());
            }
            DeliveryOutcome::Failed { error } => {
                d.status = DeliveryStatus::Failed;
                d.last_error = Some(error.clone());
            }
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        channel_id: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let s = self.lock();
        Ok(s.alerting
            .deliveries
            .iter()
            .rev()
            .filter(|(d, _)| d.channel_id == channel_id)
            .take(limit)
            .map(|(d, _)| d.clone())
            .collect())
    }

    async fn last_notified(
        &self,
        fingerprints: &[String],
    ) -> Result<BTreeMap<(String, Uuid), OffsetDateTime>, StoreError> {
        let s = self.lock();
        let wanted: BTreeSet<&String> = fingerprints.iter().collect();
        let mut out: BTreeMap<(String, Uuid), OffsetDateTime> = BTreeMap::new();
        for (d, _) in &s.alerting.deliveries {
            if !wanted.contains(&d.transition.fingerprint) {
                continue;
            }
            let e = out
                .entry((d.transition.fingerprint.clone(), d.channel_id))
                .or_insert(d.created_at);
            *e = (*e).max(d.created_at);
        }
        Ok(out)
    }
}

/// One process: it always leads.
#[async_trait]
impl LeaderLease for MemoryStore {
    async fn try_lead(&self, _task: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}
