//! Managing notification channels. Secrets (a webhook's signing secret, a Slack URL, an SMTP
//! password, a PagerDuty routing key) are sealed with the server's key ring before they are
//! stored, and never returned or logged.

use pganalytics_domain::alerts::Severity;
use pganalytics_domain::alerts::channel::{
    self, Channel, ChannelKind, ChannelSettings, DeliveryStatus, Route,
};
use pganalytics_domain::alerts::state::TransitionKind;
use pganalytics_domain::audit::AuditContext;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

use super::notify::CHANNEL_SECRET;
use crate::StoreError;
use crate::crypto::SecretCipher;
use crate::env::{Clock, IdSource};
use crate::store::{ChannelStore, Delivery, StoredChannel, Transition};

/// A channel as an admin describes it.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    pub enabled: bool,
    pub settings: ChannelSettings,
    pub route: Route,
    /// `None` on an update keeps the stored secret.
    pub secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct ChannelAdmin {
    pub channels: Arc<dyn ChannelStore>,
    pub cipher: Arc<dyn SecretCipher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl ChannelAdmin {
    pub async fn list(&self) -> Result<Vec<Channel>, StoreError> {
        Ok(self
            .channels
            .list_channels()
            .await?
            .into_iter()
            .map(|c| c.channel)
            .collect())
    }

    pub async fn get(&self, id: Uuid) -> Result<Channel, StoreError> {
        Ok(self.channels.get_channel(id).await?.channel)
    }

    fn seal(&self, secret: &SecretString) -> Result<String, ChannelError> {
        if secret.expose_secret().is_empty() || secret.expose_secret().len() > 4096 {
            return Err(ChannelError::Invalid {
                field: "secret".into(),
                message: "1 to 4096 bytes".into(),
            });
        }
        self.cipher
            .seal(secret, CHANNEL_SECRET)
            .map_err(|e| ChannelError::Store(StoreError::unknown(e.to_string())))
    }

    fn check(input: &ChannelInput, has_secret: bool) -> Result<(), ChannelError> {
        if input.kind == ChannelKind::Slack
            && let Some(s) = &input.secret
            && let Err(message) = channel::check_http_url(s.expose_secret())
        {
            return Err(ChannelError::Invalid {
                field: "secret".into(),
                message: format!("a Slack channel's secret is its webhook URL: {message}"),
            });
        }
        channel::validate(&input.name, input.kind, &input.settings, has_secret)
            .map_err(|(field, message)| ChannelError::Invalid { field, message })
    }

    pub async fn create(
        &self,
        ctx: &AuditContext,
        input: ChannelInput,
    ) -> Result<Channel, ChannelError> {
        Self::check(&input, input.secret.is_some())?;
        let sealed = input.secret.as_ref().map(|s| self.seal(s)).transpose()?;
        let now = self.clock.now();
        let channel = Channel {
            id: self.ids.uuid(),
            name: input.name,
            kind: input.kind,
            enabled: input.enabled,
            settings: input.settings,
            route: input.route,
            has_secret: sealed.is_some(),
            created_at: now,
            updated_at: now,
        };
        let audit = ctx
            .entry(
                "notification_channel.create",
                Some(format!("notification_channel:{}", channel.id)),
                now,
            )
            .detail("kind", channel.kind.as_str());
        self.channels
            .create_channel(
                &StoredChannel {
                    channel: channel.clone(),
                    sealed_secret: sealed,
                },
                &audit,
            )
            .await?;
        Ok(channel)
    }

    pub async fn update(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        input: ChannelInput,
    ) -> Result<Channel, ChannelError> {
        let current = self.channels.get_channel(id).await?;
        let sealed = match &input.secret {
            Some(s) => Some(self.seal(s)?),
            None => current.sealed_secret.clone(),
        };
        Self::check(&input, sealed.is_some())?;
        let now = self.clock.now();
        let channel = Channel {
            id,
            name: input.name,
            kind: input.kind,
            enabled: input.enabled,
            settings: input.settings,
            route: input.route,
            has_secret: sealed.is_some(),
            created_at: current.channel.created_at,
            updated_at: now,
        };
        let audit = ctx
            .entry(
                "notification_channel.update",
                Some(format!("notification_channel:{id}")),
                now,
            )
            .detail("secret_changed", input.secret.is_some());
        self.channels
            .update_channel(
                &StoredChannel {
                    channel: channel.clone(),
                    sealed_secret: sealed,
                },
                &audit,
            )
            .await?;
        Ok(channel)
    }

    pub async fn delete(&self, ctx: &AuditContext, id: Uuid) -> Result<(), StoreError> {
        let audit = ctx.entry(
            "notification_channel.delete",
            Some(format!("notification_channel:{id}")),
            self.clock.now(),
        );
        self.channels.delete_channel(id, &audit).await
    }

    /// Queues a made-up alert for the channel, due now; the delivery log shows the outcome.
    pub async fn test(&self, ctx: &AuditContext, id: Uuid) -> Result<Delivery, StoreError> {
        let channel = self.channels.get_channel(id).await?.channel;
        let now = self.clock.now();
        let transition = Transition {
            id: self.ids.uuid(),
            fingerprint: format!("test-{id}"),
            rule: "pganalytics_channel_test".into(),
            kind: TransitionKind::Firing,
            severity: Severity::Info,
            value: 1.0,
            summary: format!(
                "Test notification from pgAnalytics to channel {}",
                channel.name
            ),
            description: "Sent by the channel's \"send test\" action; nothing is wrong.".into(),
            runbook: String::new(),
            labels: BTreeMap::from([("channel".to_owned(), channel.name.clone())]),
            active_since: now,
            at: now,
        };
        let delivery = Delivery {
            id: self.ids.uuid(),
            transition,
            channel_id: id,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
            created_at: now,
        };
        let audit = ctx.entry(
            "notification_channel.test",
            Some(format!("notification_channel:{id}")),
            now,
        );
        self.channels.queue_test_delivery(&delivery, &audit).await?;
        Ok(delivery)
    }

    pub async fn deliveries(&self, id: Uuid, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.channels.get_channel(id).await?;
        self.channels.list_deliveries(id, limit).await
    }
}

crate::usecases::auth::opaque_debug!(ChannelAdmin);
crate::usecases::auth::opaque_debug!(super::notify::DeliverNotifications);
crate::usecases::auth::opaque_debug!(super::evaluate::EvaluateAlerts);
