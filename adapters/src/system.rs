//! The real clock and the operating system's random number generator.

use pganalytics_domain::credentials::SecretBytes;
use pganalytics_ports::env::{Clock, IdSource};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock tests move instead of sleeping: it runs with the wall clock, shifted by what
/// [`advance`](Self::advance) and [`set`](Self::set) added. Following the wall clock keeps
/// everything a test does not move consistent with the times its clients put in requests.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: std::sync::Mutex<time::Duration>,
}

impl TestClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: time::Duration) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }

    /// Puts the clock at `to`; it runs on from there.
    pub fn set(&self, to: OffsetDateTime) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) = to - OffsetDateTime::now_utc();
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc() + offset)
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
