//! The agent's delivery: the spool drained oldest first over the transport, with every
//! decision about an answer made here (see [`pganalytics_domain::delivery`]):
//!
//! - 2xx: delivered; the record is acknowledged (deleted) in the spool, never before.
//! - 401: the token is refreshed with the client certificate and the batch pushed again once.
//! - network errors, 408, 429, 5xx: retried later with exponential backoff and full jitter,
//!   never sooner than the server's `Retry-After`.
//! - any other 4xx: the server will never take it; it goes to the dead letters with the
//!   reason, so it never blocks the batches behind it.
//!
//! [`DeliverBatches::step`] does one attempt and says how long to wait before the next; the
//! shell's thread does the waiting (and is woken early by a stop), so tests drive it with no
//! clock at all. [`PollConfig`] fetches the server's configuration with the same token rule.

use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::{Backoff, Decision, PushResult, decide};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::spool::Spool;
use crate::transport::{DeadLetters, PushAnswer, Transport, TransportError};

/// What one delivery step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The spool is empty.
    Idle,
    Delivered {
        spool_id: u64,
        /// The configuration version the server announced in its answer.
        next_config_version: Option<i64>,
    },
    /// Refused for good; kept in the dead letters.
    DeadLettered { spool_id: u64, answer: String },
    /// Not taken now: try again after `delay`. `attempt` counts the failures in a row
    /// (1 for the first).
    RetryLater {
        delay: Duration,
        attempt: u32,
        answer: String,
    },
    /// The spool or the dead letters failed; try again after `delay`.
    Stalled { delay: Duration, error: String },
}

/// How long to wait after the spool failed.
pub const SPOOL_STALL: Duration = Duration::from_secs(5);
/// How long to wait when a refused batch cannot be kept aside (a full or read-only disk):
/// longer, since each try pushes the batch to the server again.
pub const DEAD_LETTER_STALL: Duration = Duration::from_secs(60);

pub struct DeliverBatches {
    spool: Arc<Mutex<dyn Spool>>,
    transport: Arc<dyn Transport>,
    dead_letters: Arc<dyn DeadLetters>,
    backoff: Backoff,
    /// A uniform draw in `[0, 1)` for the jitter.
    draw: Box<dyn FnMut() -> f64 + Send>,
    failures: u32,
}

impl std::fmt::Debug for DeliverBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverBatches")
            .field("backoff", &self.backoff)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl DeliverBatches {
    pub fn new(
        spool: Arc<Mutex<dyn Spool>>,
        transport: Arc<dyn Transport>,
        dead_letters: Arc<dyn DeadLetters>,
        backoff: Backoff,
        draw: Box<dyn FnMut() -> f64 + Send>,
    ) -> Self {
        Self {
            spool,
            transport,
            dead_letters,
            backoff,
            draw,
            failures: 0,
        }
    }

    fn spool(&self) -> MutexGuard<'_, dyn Spool + 'static> {
        // The spool's own state is consistent after any panic (every change is one call).
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pushes the oldest spooled batch once and acts on the answer. The spool is not locked
    /// while the push is in flight, so batches keep being spooled meanwhile.
    pub fn step(&mut self) -> Delivery {
        let oldest = self.spool().oldest();
        let record = match oldest {
            Ok(Some(r)) => r,
            Ok(None) => return Delivery::Idle,
            Err(e) => return stalled(SPOOL_STALL, format!("cannot read the spool: {e}")),
        };
        let answer = self.push(&record.payload);
        match decide(answer.result) {
            Decision::Delivered => {
                self.failures = 0;
                if let Err(e) = self.spool().ack(record.id) {
                    return stalled(
                        SPOOL_STALL,
                        format!("cannot acknowledge a delivered batch: {e}"),
                    );
                }
                Delivery::Delivered {
                    spool_id: record.id,
                    next_config_version: answer.next_config_version(),
                }
            }
            Decision::DeadLetter => {
                self.failures = 0;
                if let Err(e) = self
                    .dead_letters
                    .keep(record.id, &record.payload, &answer.body)
                {
                    return stalled(
                        DEAD_LETTER_STALL,
                        format!("cannot keep a refused batch aside; it stays spooled: {e}"),
                    );
                }
                if let Err(e) = self.spool().ack(record.id) {
                    return stalled(
                        SPOOL_STALL,
                        format!("cannot remove a dead letter from the spool: {e}"),
                    );
                }
                Delivery::DeadLettered {
                    spool_id: record.id,
                    answer: answer.body,
                }
            }
            Decision::RetryLater | Decision::RefreshTokenThenRetry => {
                let draw = (self.draw)();
                let delay = self.backoff.delay(self.failures, draw, answer.retry_after);
                self.failures = self.failures.saturating_add(1);
                Delivery::RetryLater {
                    delay,
                    attempt: self.failures,
                    answer: answer.body,
                }
            }
        }
    }

    /// One push; on 401, one token refresh and one more push.
    fn push(&self, payload: &[u8]) -> PushAnswer {
        let answer = self.transport.push(payload);
        if answer.result != PushResult::Status(401) || self.transport.refresh_token().is_err() {
            return answer;
        }
        self.transport.push(payload)
    }
}

fn stalled(delay: Duration, error: String) -> Delivery {
    Delivery::Stalled { delay, error }
}

/// Fetches the server's configuration for the collector, refreshing the token once when it
/// is refused.
pub struct PollConfig {
    pub transport: Arc<dyn Transport>,
}

impl PollConfig {
    /// The configuration when its version is not `etag`.
    pub fn execute(&self, etag: Option<&str>) -> Result<Option<CollectorConfig>, TransportError> {
        match self.transport.config(etag) {
            Err(e) if e.status() == Some(401) => {
                self.transport.refresh_token()?;
                self.transport.config(etag)
            }
            other => other,
        }
    }
}

impl std::fmt::Debug for PollConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PollConfig")
    }
}
