//! The sender thread: drains the spool oldest first and deletes a batch only once the server
//! acknowledged it. Network errors, 408, 429 and 5xx are retried with exponential backoff
//! and full jitter (never sooner than `Retry-After`); a batch the server refuses for good
//! (another 4xx) goes to the dead-letter folder with the reason, so it never blocks the
//! batches behind it.

use pganalytics_adapters::spool::DiskSpool;
use pganalytics_domain::delivery::{Backoff, Decision, decide};
use pganalytics_ports::spool::Spool;
use slog::{Logger, error, info, warn};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::selfmetrics::SelfMetrics;
use crate::session::Session;

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
}

pub struct Sender {
    pub spool: Arc<Mutex<DiskSpool>>,
    pub session: Arc<Session>,
    pub signal: Arc<Signal>,
    pub metrics: Arc<SelfMetrics>,
    pub dead_letter_dir: PathBuf,
    /// The newest configuration version a push answer announced.
    pub announced_config: Arc<AtomicI64>,
    pub log: Logger,
    pub backoff: Backoff,
}

fn jitter_draw() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Sender {
    fn lock(&self) -> std::sync::MutexGuard<'_, DiskSpool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs until stopped. A push in flight when the stop comes is finished first.
    pub fn run(self) {
        let mut attempt: u32 = 0;
        while !self.signal.stopped() {
            let oldest = self.lock().oldest();
            let record = match oldest {
                Ok(Some(r)) => r,
                Ok(None) => {
                    self.signal.wait(Duration::from_secs(5));
                    continue;
                }
                Err(e) => {
                    error!(self.log, "cannot read the spool"; "error" => %e);
                    self.signal.wait(Duration::from_secs(5));
                    continue;
                }
            };
            let answer = self.session.push(&record.payload);
            match decide(answer.result) {
                Decision::Delivered => {
                    attempt = 0;
                    if let Err(e) = self.lock().ack(record.id) {
                        error!(self.log, "cannot acknowledge a delivered batch in the spool"; "error" => %e);
                    }
                    self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                    if let Some(v) = answer.next_config_version() {
                        self.announced_config.fetch_max(v, Ordering::Relaxed);
                    }
                }
                Decision::DeadLetter => {
                    attempt = 0;
                    warn!(self.log, "the server refused a batch for good; kept in the dead-letter folder";
                        "spool_id" => record.id, "answer" => &answer.body);
                    match keep_dead_letter(
                        &self.dead_letter_dir,
                        record.id,
                        &record.payload,
                        &answer.body,
                    ) {
                        Ok(()) => {
                            if let Err(e) = self.lock().ack(record.id) {
                                error!(self.log, "cannot remove a dead letter from the spool"; "error" => %e);
                            }
                            self.metrics.dead_letters.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            error!(self.log, "cannot write to the dead-letter folder; the batch stays in the spool"; "error" => %e);
                            self.signal.wait(Duration::from_secs(60));
                        }
                    }
                }
                Decision::RetryLater | Decision::RefreshTokenThenRetry => {
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    let delay = self
                        .backoff
                        .delay(attempt, jitter_draw(), answer.retry_after);
                    if attempt == 0 {
                        info!(self.log, "the server is not taking batches; retrying with backoff";
                            "answer" => &answer.body, "delay_ms" => delay.as_millis());
                    }
                    attempt = attempt.saturating_add(1);
                    // Stop interrupts the wait; a new batch does not (the spool is in order).
                    let until = std::time::Instant::now() + delay;
                    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
                        if self.signal.wait(left) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// `<dir>/<spool id>.batch.zst` and `<dir>/<spool id>.reason.json`.
fn keep_dead_letter(dir: &Path, id: u64, payload: &[u8], reason: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{id:020}.reason.json")), reason)?;
    let path = dir.join(format!("{id:020}.batch.zst"));
    std::fs::write(&path, payload)?;
    std::fs::File::open(&path)?.sync_all()
}
