//! What the agent does with the server's answer to a push, and how long it waits before
//! trying again. Pure: the random draw for the jitter comes in as an argument.
//!
//! - 2xx: delivered, the record is deleted from the spool.
//! - 401: the collector token expired or was rejected: get a new one with the client
//!   certificate, then push again.
//! - network errors, 408, 429 and 5xx: try again later, with exponential backoff and full
//!   jitter (AWS's "full jitter": a uniform draw in `[0, min(cap, base·2^attempt)]`), and
//!   never sooner than the server's `Retry-After`.
//! - any other 4xx: the server will never accept this batch; keep it aside (dead letter)
//!   with the reason rather than block everything behind it.

use std::time::Duration;

/// The answer to one push attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushResult {
    /// No HTTP answer: connection refused, reset, timed out, TLS failure.
    NetworkError,
    Status(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    RefreshTokenThenRetry,
    RetryLater,
    DeadLetter,
}

pub fn decide(result: PushResult) -> Decision {
    match result {
        PushResult::NetworkError => Decision::RetryLater,
        PushResult::Status(200..=299) => Decision::Delivered,
        PushResult::Status(401) => Decision::RefreshTokenThenRetry,
        PushResult::Status(408 | 429) | PushResult::Status(500..=599) => Decision::RetryLater,
        PushResult::Status(_) => Decision::DeadLetter,
    }
}

/// Exponential backoff with full jitter and a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// The longest `Retry-After` honoured: a misbehaving server cannot park the agent forever.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// How long to wait before attempt number `attempt + 1` (0 after the first failure).
    /// `draw` is uniform in `[0, 1)`; `retry_after` is the server's `Retry-After`, if any.
    pub fn delay(&self, attempt: u32, draw: f64, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        let jittered = ceiling.mul_f64(draw.clamp(0.0, 1.0));
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// `Retry-After` in its delta-seconds form (the HTTP-date form is not used by our server
/// and is ignored).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_map_to_the_documented_decisions() {
        use Decision::*;
        use PushResult::*;
        let cases = [
            (NetworkError, RetryLater),
            (Status(200), Delivered),
            (Status(204), Delivered),
            (Status(401), RefreshTokenThenRetry),
            (Status(408), RetryLater),
            (Status(429), RetryLater),
            (Status(500), RetryLater),
            (Status(503), RetryLater),
            (Status(400), DeadLetter),
            (Status(403), DeadLetter),
            (Status(413), DeadLetter),
            (Status(415), DeadLetter),
        ];
        for (result, decision) in cases {
            assert_eq!(decide(result), decision, "{result:?}");
        }
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let b = Backoff::default();
        let top = |attempt| b.delay(attempt, 0.999_999, None).as_secs_f64().round() as u64;
        assert_eq!(
            [top(0), top(1), top(2), top(8), top(9), top(40)],
            [1, 2, 4, 256, 300, 300]
        );
        assert_eq!(b.delay(5, 0.0, None), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let b = Backoff::default();
        assert_eq!(
            b.delay(0, 0.5, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            b.delay(0, 0.5, Some(Duration::from_secs(86_400))),
            Duration::from_secs(3600)
        );
        assert_eq!(parse_retry_after(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    proptest! {
        #[test]
        fn delays_stay_within_zero_and_the_cap(attempt in any::<u32>(), draw in 0.0f64..1.0) {
            let b = Backoff::default();
            prop_assert!(b.delay(attempt, draw, None) <= b.cap);
        }

        #[test]
        fn a_delay_is_never_shorter_than_retry_after(attempt in 0u32..64, draw in 0.0f64..1.0, after in 0u64..3600) {
            let after = Duration::from_secs(after);
            prop_assert!(Backoff::default().delay(attempt, draw, Some(after)) >= after);
        }
    }
}
