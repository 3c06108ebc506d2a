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
