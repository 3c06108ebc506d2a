//! What every push needs to know about its collector, from memory: whether it may push
//! (its certificate and status) and its configuration, and the record that it was seen.
//! Before this, each push cost two round trips for them; now a collector costs one read
//! per `staleness` and the whole fleet's check-ins one statement per `staleness`.
//!
//! Bounded staleness, and where it is not allowed:
//! - a revocation, certificate renewal or configuration change made through this server
//!   takes effect at once ([`forget`](CollectorPresence::forget)); made through another
//!   server sharing the database, within `staleness`;
//! - a certificate that does not match the remembered one, or a collector remembered as
//!   revoked, is read again before the push is refused (a renewal elsewhere never locks
//!   an agent out);
//! - `last_seen` and `agent_version` reach the database within `staleness` of the push
//!   (at once for a collector's first push after the server starts).

use pganalytics_domain::collector::{Collector, CollectorId};
use pganalytics_domain::config::CollectorConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

use crate::StoreError;
use crate::env::Clock;
use crate::store::{CheckIn, CollectorStore};

pub struct CollectorPresence {
    collectors: Arc<dyn CollectorStore>,
    clock: Arc<dyn Clock>,
    staleness: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Collectors as read, with when.
    known: HashMap<CollectorId, (Collector, OffsetDateTime)>,
    /// Each collector's configuration as of the last check-in written for it.
    configs: HashMap<CollectorId, CollectorConfig>,
    /// Check-ins not yet written.
    seen: HashMap<CollectorId, CheckIn>,
    flushed_at: Option<OffsetDateTime>,
    flushing: bool,
}

impl CollectorPresence {
    pub fn new(
        collectors: Arc<dyn CollectorStore>,
        clock: Arc<dyn Clock>,
        staleness: std::time::Duration,
    ) -> Self {
        Self {
            collectors,
            clock,
            staleness: Duration::try_from(staleness).unwrap_or(Duration::ZERO),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The collector, as read at most `staleness` ago (`fresh` reads it again).
    ///
    /// # Errors
    /// `NotFound` for an unknown id, as the store answers.
    pub async fn collector(&self, id: CollectorId, fresh: bool) -> Result<Collector, StoreError> {
        let now = self.clock.now();
        if !fresh
            && let Some((c, at)) = self.lock().known.get(&id)
            && now - *at < self.staleness
        {
            return Ok(c.clone());
        }
        let c = self.collectors.get_collector(id).await?;
        self.lock().known.insert(id, (c.clone(), now));
        Ok(c)
    }

    /// Drops what is remembered of the collector (after a change made through this server).
    pub fn forget(&self, id: CollectorId) {
        let mut s = self.lock();
        s.known.remove(&id);
        s.configs.remove(&id);
    }

    /// Records that the collector pushed at `now`, and answers its configuration: from
    /// memory when it is known, else with a check-in written at once. Writes every
    /// gathered check-in when the last write is `staleness` old.
    ///
    /// # Errors
    /// As [`CollectorStore::check_in`], when the configuration is not known yet.
    pub async fn check_in(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        agent_version: Option<&str>,
    ) -> Result<CollectorConfig, StoreError> {
        let (known, due) = {
            let mut s = self.lock();
            let known = s.configs.get(&id).cloned();
            if known.is_some() {
                let e = s.seen.entry(id).or_insert_with(|| CheckIn {
                    id,
                    at: now,
                    agent_version: None,
                });
                e.at = e.at.max(now);
                if let Some(v) = agent_version {
                    e.agent_version = Some(v.to_owned());
                }
            }
            let due = !s.flushing && s.flushed_at.is_none_or(|t| now - t >= self.staleness);
            (known, due)
        };
        let Some(config) = known else {
            let config = self.collectors.check_in(id, now, agent_version).await?;
            self.lock().configs.insert(id, config.clone());
            return Ok(config);
        };
        if due {
            // A failed write keeps the check-ins for the next one; the push itself is stored.
            let _ = self.flush().await;
        }
        Ok(self.lock().configs.get(&id).cloned().unwrap_or(config))
    }

    /// Writes the gathered check-ins in one statement and refreshes the configurations
    /// they answer. At most one write runs at a time; one already running is enough.
    ///
    /// # Errors
    /// As [`CollectorStore::check_in_many`]; the check-ins are kept for the next write.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let seen: Vec<CheckIn> = {
            let mut s = self.lock();
            if s.flushing {
                return Ok(());
            }
            s.flushing = true;
            s.flushed_at = Some(self.clock.now());
            s.seen.drain().map(|(_, c)| c).collect()
        };
        let result = if seen.is_empty() {
            Ok(Default::default())
        } else {
            self.collectors.check_in_many(&seen).await
        };
        let mut s = self.lock();
        s.flushing = false;
        match result {
            Ok(configs) => {
                s.configs.extend(configs);
                Ok(())
            }
            Err(e) => {
                for c in seen {
                    let e = s.seen.entry(c.id).or_insert_with(|| c.clone());
                    e.at = e.at.max(c.at);
                    if e.agent_version.is_none() {
                        e.agent_version = c.agent_version;
                    }
                }
                Err(e)
            }
        }
    }
}

crate::usecases::auth::opaque_debug!(CollectorPresence);
