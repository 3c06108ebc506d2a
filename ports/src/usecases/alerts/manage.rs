//! Alerts as people see and handle them: list, look at one with its history, acknowledge;
//! silences and maintenance windows.

use pganalytics_domain::alerts::matcher::Matcher;
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence, check_window};
use pganalytics_domain::alerts::state::{Ack, AlertState, Phase, TransitionKind};
use pganalytics_domain::audit::AuditContext;
use std::sync::Arc;
use time::OffsetDateTime;

use super::evaluate::routed;
use crate::StoreError;
use crate::env::{Clock, IdSource};
use crate::store::{
    AlertFilter, AlertRuleStore, AlertStore, ChannelStore, MetricStore, Transition,
};

#[derive(Debug, thiserror::Error)]
pub enum AlertAdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("the alert is not firing")]
    NotFiring,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct AlertAdmin {
    pub alerts: Arc<dyn AlertStore>,
    pub rules: Arc<dyn AlertRuleStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

/// The longest comment kept.
const MAX_COMMENT: usize = 2000;

fn check_comment(c: &str) -> Result<(), AlertAdminError> {
    if c.len() > MAX_COMMENT || c.chars().any(|ch| ch.is_control() && ch != '\n') {
        return Err(AlertAdminError::Invalid(format!(
            "a comment is at most {MAX_COMMENT} bytes of text"
        )));
    }
    Ok(())
}

impl AlertAdmin {
    pub async fn list(&self, filter: &AlertFilter) -> Result<Vec<AlertState>, StoreError> {
        self.alerts.list_alerts(filter).await
    }

    pub async fn get(
        &self,
        fingerprint: &str,
    ) -> Result<(AlertState, Vec<Transition>), StoreError> {
        let alert = self.alerts.get_alert(fingerprint).await?;
        let history = self.alerts.alert_history(fingerprint, 200).await?;
        Ok((alert, history))
    }

    /// Acknowledges a firing alert: repeats stop until it resolves, and channels that take
    /// acknowledgements (PagerDuty, webhooks, Slack) are told.
    pub async fn acknowledge(
        &self,
        ctx: &AuditContext,
        fingerprint: &str,
        by: &str,
        comment: &str,
    ) -> Result<AlertState, AlertAdminError> {
        check_comment(comment)?;
        let alert = self.alerts.get_alert(fingerprint).await?;
        if alert.phase != Phase::Firing {
            return Err(AlertAdminError::NotFiring);
        }
        let now = self.clock.now();
        let runbook = self
            .rules
            .get_rule(&alert.rule)
            .await
            .map(|r| r.spec.runbook)
            .unwrap_or_default();
        let t = Transition {
            id: self.ids.uuid(),
            fingerprint: fingerprint.to_owned(),
            rule: alert.rule.clone(),
            kind: TransitionKind::Acknowledged,
            severity: alert.severity,
            value: alert.value,
            summary: alert.summary.clone(),
            description: format!("Acknowledged by {by}: {comment}"),
            runbook,
            labels: alert.labels.clone(),
            active_since: alert.active_since,
            at: now,
        };
        let channels: Vec<_> = self
            .channels
            .list_channels()
            .await?
            .into_iter()
            .map(|c| c.channel)
            .filter(|c| c.enabled)
            .collect();
        let deliveries = routed(&channels, &t, &alert, now, false, || self.ids.uuid());
        let ack = Ack {
            by: by.to_owned(),
            at: now,
            comment: comment.to_owned(),
        };
        let audit = ctx.entry(
            "alert.acknowledge",
            Some(format!("alert:{fingerprint}")),
            now,
        );
        self.alerts
            .ack_alert(fingerprint, &ack, &(t, deliveries), &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => AlertAdminError::NotFiring,
                other => AlertAdminError::Store(other),
            })
    }

    pub async fn create_silence(
        &self,
        ctx: &AuditContext,
        matchers: Vec<Matcher>,
        starts_at: Option<OffsetDateTime>,
        ends_at: OffsetDateTime,
        created_by: &str,
        comment: &str,
    ) -> Result<Silence, AlertAdminError> {
        check_comment(comment)?;
        if matchers.is_empty() {
            return Err(AlertAdminError::Invalid(
                "a silence needs at least one matcher (it would silence everything)".into(),
            ));
        }
        let now = self.clock.now();
        let starts_at = starts_at.unwrap_or(now);
        check_window(starts_at, ends_at, now).map_err(AlertAdminError::Invalid)?;
        let silence = Silence {
            id: self.ids.uuid(),
            matchers,
            starts_at,
            ends_at,
            created_by: created_by.to_owned(),
            comment: comment.to_owned(),
        };
        let audit = ctx
            .entry(
                "silence.create",
                Some(format!("silence:{}", silence.id)),
                now,
            )
            .detail(
                "matchers",
                silence
                    .matchers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
        self.alerts.create_silence(&silence, &audit).await?;
        Ok(silence)
    }

    /// Silences still active or to come (`all`: also those that ended in the last week).
    pub async fn list_silences(&self, all: bool) -> Result<Vec<Silence>, StoreError> {
        let now = self.clock.now();
        let since = if all {
            now - time::Duration::days(7)
        } else {
            now
        };
        self.alerts.list_silences(since).await
    }

    pub async fn expire_silence(
        &self,
        ctx: &AuditContext,
        id: uuid::Uuid,
    ) -> Result<Silence, StoreError> {
        let now = self.clock.now();
        let audit = ctx.entry("silence.expire", Some(format!("silence:{id}")), now);
        self.alerts.expire_silence(id, now, &audit).await
    }

    pub async fn create_maintenance(
        &self,
        ctx: &AuditContext,
        server_id: i64,
        starts_at: Option<OffsetDateTime>,
        ends_at: OffsetDateTime,
        created_by: &str,
        comment: &str,
    ) -> Result<MaintenanceWindow, AlertAdminError> {
        check_comment(comment)?;
        self.metrics.get_server(server_id).await?;
        let now = self.clock.now();
        let starts_at = starts_at.unwrap_or(now);
        check_window(starts_at, ends_at, now).map_err(AlertAdminError::Invalid)?;
        let window = MaintenanceWindow {
            id: self.ids.uuid(),
            server_id,
            starts_at,
            ends_at,
            created_by: created_by.to_owned(),
            comment: comment.to_owned(),
        };
        let audit = ctx
            .entry(
                "maintenance.create",
                Some(format!("maintenance:{}", window.id)),
                now,
            )
            .detail("server_id", server_id);
        self.alerts.create_maintenance(&window, &audit).await?;
        Ok(window)
    }

    pub async fn list_maintenance(&self) -> Result<Vec<MaintenanceWindow>, StoreError> {
        self.alerts.list_maintenance(self.clock.now()).await
    }

    pub async fn delete_maintenance(
        &self,
        ctx: &AuditContext,
        id: uuid::Uuid,
    ) -> Result<(), StoreError> {
        let audit = ctx.entry(
            "maintenance.delete",
            Some(format!("maintenance:{id}")),
            self.clock.now(),
        );
        self.alerts.delete_maintenance(id, &audit).await
    }
}

crate::usecases::auth::opaque_debug!(AlertAdmin);
