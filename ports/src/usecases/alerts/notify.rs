//! Sending queued notifications: due deliveries are taken under a lease, grouped per
//! channel, rule and kind into one message, sent, and marked delivered, retried with
//! backoff, or failed. A crash between sending and marking resends the same message with
//! the same idempotency key, so a receiver that keeps the keys sees each transition once.

use pganalytics_domain::alerts::channel::{Message, NotifiedAlert, retry_after};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

use crate::StoreError;
use crate::crypto::SecretCipher;
use crate::env::Clock;
use crate::notify::{Notifier, NotifyError};
use crate::store::{ChannelStore, Delivery, DeliveryOutcome, StoredChannel};

/// The `SecretCipher` purpose of channel secrets.
pub const CHANNEL_SECRET: &str = "notification-channel";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyReport {
    pub messages: u32,
    pub delivered: u32,
    pub retried: u32,
    pub failed: u32,
}

pub struct DeliverNotifications {
    pub channels: Arc<dyn ChannelStore>,
    pub notifier: Arc<dyn Notifier>,
    pub cipher: Arc<dyn SecretCipher>,
    pub clock: Arc<dyn Clock>,
    /// How long a taken delivery is ours before another server may take it.
    pub lease: Duration,
    /// At most this many deliveries per run.
    pub batch: usize,
}

impl DeliverNotifications {
    /// # Errors
    /// When the store cannot be read or written.
    pub async fn run_once(&self) -> Result<NotifyReport, StoreError> {
        let now = self.clock.now();
        let due = self
            .channels
            .take_due_deliveries(now, now + self.lease, self.batch)
            .await?;
        let mut report = NotifyReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        let channels: BTreeMap<Uuid, StoredChannel> = self
            .channels
            .list_channels()
            .await?
            .into_iter()
            .map(|c| (c.channel.id, c))
            .collect();
        let mut groups: BTreeMap<(Uuid, String, &'static str), Vec<Delivery>> = BTreeMap::new();
        for d in due {
            groups
                .entry((
                    d.channel_id,
                    d.transition.rule.clone(),
                    d.transition.kind.as_str(),
                ))
                .or_default()
                .push(d);
        }
        for ((channel_id, _, _), deliveries) in groups {
            report.messages += 1;
            let outcome = match channels.get(&channel_id) {
                Some(c) => self.send(c, &deliveries).await,
                None => Err(NotifyError::Permanent("the channel was deleted".into())),
            };
            for d in &deliveries {
                let finish = match &outcome {
                    Ok(()) => {
                        report.delivered += 1;
                        DeliveryOutcome::Delivered {
                            at: self.clock.now(),
                        }
                    }
                    Err(NotifyError::Retry(e)) => match retry_after(d.attempts + 1) {
                        Some(wait) => {
                            report.retried += 1;
                            DeliveryOutcome::Retry {
                                at: self.clock.now() + wait,
                                error: e.clone(),
                            }
                        }
                        None => {
                            report.failed += 1;
                            DeliveryOutcome::Failed { error: e.clone() }
                        }
                    },
                    Err(NotifyError::Permanent(e)) => {
                        report.failed += 1;
                        DeliveryOutcome::Failed { error: e.clone() }
                    }
                };
                self.channels.finish_delivery(d.id, &finish).await?;
            }
        }
        Ok(report)
    }

    async fn send(&self, c: &StoredChannel, deliveries: &[Delivery]) -> Result<(), NotifyError> {
        let secret = match &c.sealed_secret {
            Some(sealed) => Some(self.cipher.open(sealed, CHANNEL_SECRET).map_err(|_| {
                NotifyError::Permanent(
                    "the channel's secret cannot be decrypted with the server's keys".into(),
                )
            })?),
            None => None,
        };
        let message = message_of(deliveries);
        self.notifier
            .send(&c.channel, secret.as_ref(), &message)
            .await
    }
}

/// The message settling these deliveries.
pub fn message_of(deliveries: &[Delivery]) -> Message {
    Message {
        delivery_ids: deliveries.iter().map(|d| d.id).collect(),
        alerts: deliveries
            .iter()
            .map(|d| {
                let t = &d.transition;
                NotifiedAlert {
                    transition_id: t.id,
                    fingerprint: t.fingerprint.clone(),
                    rule: t.rule.clone(),
                    kind: t.kind,
                    severity: t.severity,
                    summary: t.summary.clone(),
                    description: t.description.clone(),
                    runbook: t.runbook.clone(),
                    labels: t.labels.clone(),
                    value: t.value,
                    at: t.at,
                    active_since: t.active_since,
                }
            })
            .collect(),
    }
}
