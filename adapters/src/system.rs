//! The real clock and the operating system's random number generator.

use pganalytics_domain::credentials::SecretBytes;
use pganalytics_ports::env::{Clock, IdSource};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc())
    }
    async fn sleep(&self, by: time::Duration) {
        tokio::time::sleep(by.try_into().unwrap_or_default()).await;
    }
}

/// A clock tests move instead of sleeping: it runs with the wall clock, shifted by what
/// [`advance`](Self::advance) and [`set`](Self::set) added. Following the wall clock keeps
/// everything a test does not move consistent with the times its clients put in requests.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: std::sync::Mutex<time::Duration>,
    /// Wakes sleepers when the clock is moved.
    moved: tokio::sync::Notify,
    sleepers: std::sync::atomic::AtomicUsize,
}

impl TestClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: time::Duration) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) += by;
        self.moved.notify_waiters();
    }

    /// Puts the clock at `to`; it runs on from there.
    pub fn set(&self, to: OffsetDateTime) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) = to - OffsetDateTime::now_utc();
        self.moved.notify_waiters();
    }

    /// How many [`Clock::sleep`]s are waiting on this clock: what a test waits for before
    /// it moves the clock past them.
    pub fn sleepers(&self) -> usize {
        self.sleepers.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc() + offset)
    }

    async fn sleep(&self, by: time::Duration) {
        use std::sync::atomic::Ordering::SeqCst;
        let until = self.now() + by;
        self.sleepers.fetch_add(1, SeqCst);
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            // Registered before the clock is read, so a move in between is not missed.
            moved.as_mut().enable();
            let left = until - self.now();
            if left <= time::Duration::ZERO {
                break;
            }
            tokio::select! {
                () = moved => {}
                () = tokio::time::sleep(left.try_into().unwrap_or_default()) => {}
            }
        }
        self.sleepers.fetch_sub(1, SeqCst);
    }
}

/// Ids and secrets from the kernel's CSPRNG (`getrandom(2)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl OsRandom {
    fn fill(buf: &mut [u8]) {
        // getrandom(2) only fails on kernels older than 3.17 or with a broken seccomp
        // policy; there is no safe way to go on issuing credentials without it.
        getrandom::fill(buf).expect("the operating system's random number generator failed");
    }
}

impl IdSource for OsRandom {
    fn uuid(&self) -> Uuid {
        Uuid::new_v4()
    }
    fn secret(&self) -> SecretBytes {
        let mut b = [0u8; 32];
        Self::fill(&mut b);
        b
    }
    fn public_id(&self) -> [u8; 6] {
        let mut b = [0u8; 6];
        Self::fill(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_moves_when_told_and_runs_with_the_wall_clock() {
        let clock = TestClock::new();
        let start = clock.now();
        clock.advance(time::Duration::hours(2));
        let moved = clock.now() - start;
        assert!(
            moved >= time::Duration::hours(2)
                && moved < time::Duration::hours(2) + time::Duration::minutes(1)
        );
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        clock.set(at);
        assert!(clock.now() >= at && clock.now() - at < time::Duration::minutes(1));
    }
}
