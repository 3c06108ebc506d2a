//! The sender thread: runs the delivery use case ([`DeliverBatches`]) until stopped, waits as
//! it says, and turns what each step did into logs and self-metrics. The decisions (ack,
//! backoff, `Retry-After`, token refresh, dead letters) are the use case's.

use pganalytics_ports::usecases::{DeliverBatches, Delivery};
use slog::{Logger, error, info, warn};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::selfmetrics::SelfMetrics;

/// How long an idle sender sleeps unless a spooled batch wakes it.
const IDLE: Duration = Duration::from_secs(5);

/// Wakes the sender (a batch was spooled) or stops it.
#[derive(Debug, Default)]
pub struct Signal {
    state: Mutex<(bool, bool)>,
    cv: Condvar,
}

impl Signal {
    pub fn notify(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        self.cv.notify_all();
    }

    pub fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.cv.notify_all();
    }

    pub fn stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Waits up to `timeout` for a notification or a stop; returns whether stopped.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |(pending, stop)| !*pending && !*stop)
            .unwrap_or_else(|p| p.into_inner());
        guard.0 = false;
        guard.1
    }

    /// Waits `delay` whatever is spooled meanwhile (the spool is delivered in order); only a
    /// stop ends it early. Returns whether stopped.
    pub fn wait_out(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if self.wait(left) {
                return true;
            }
        }
        self.stopped()
    }
}

pub struct Sender {
    pub deliver: DeliverBatches,
    pub signal: Arc<Signal>,
    pub metrics: Arc<SelfMetrics>,
    /// The newest configuration version a push answer announced.
    pub announced_config: Arc<AtomicI64>,
    pub log: Logger,
}

impl Sender {
    /// Runs until stopped. A push in flight when the stop comes is finished first.
    pub fn run(mut self) {
        while !self.signal.stopped() {
            let stopped = match self.deliver.step() {
                Delivery::Idle => self.signal.wait(IDLE),
                Delivery::Delivered {
                    next_config_version,
                    ..
                } => {
                    self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                    if let Some(v) = next_config_version {
                        self.announced_config.fetch_max(v, Ordering::Relaxed);
                    }
                    false
                }
                Delivery::DeadLettered { spool_id, answer } => {
                    warn!(self.log, "the server refused a batch for good; kept in the dead-letter folder";
                        "spool_id" => spool_id, "answer" => answer);
                    self.metrics.dead_letters.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Delivery::RetryLater {
                    delay,
                    attempt,
                    answer,
                } => {
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    if attempt == 1 {
                        info!(self.log, "the server is not taking batches; retrying with backoff";
                            "answer" => answer, "delay_ms" => delay.as_millis());
                    }
                    self.signal.wait_out(delay)
                }
                Delivery::Stalled { delay, error } => {
                    error!(self.log, "delivery is stalled; the batch stays in the spool"; "error" => error,
                        "retry_in_ms" => delay.as_millis());
                    self.signal.wait_out(delay)
                }
            };
            if stopped {
                return;
            }
        }
    }
}
