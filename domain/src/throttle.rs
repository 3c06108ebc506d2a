//! Login throttling: after a few free failures, each further failure doubles the wait
//! before the next attempt is even checked, up to a cap. The server keeps three tables:
//! per account *and* address ([`ThrottlePolicy::PAIR`], refused with a wait), per address
//! ([`ThrottlePolicy::ADDRESS`], refused with a wait) and per account from anywhere
//! ([`ThrottlePolicy::ACCOUNT`], a short pause, never a refusal) — so an attacker who
//! knows a user name locks only themselves out, never the user. A success clears the
//! account's counts. The tables are bounded: entries are forgotten once quiet for
//! `forget_after`, and when full the stalest entry goes.

use std::collections::HashMap;
use std::hash::Hash;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any wait.
    pub free_failures: u32,
    /// The wait after the first failure past the free ones; doubled each time after.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A key with no failure for this long starts afresh.
    pub forget_after: Duration,
    /// At most this many keys are tracked.
    pub max_keys: usize,
}

impl ThrottlePolicy {
    /// Per account and client address: 5 free failures, then 1 s, 2 s, 4 s … up to 15
    /// minutes before that address may try that account again.
    pub const PAIR: Self = Self {
        free_failures: 5,
        base_delay: Duration::seconds(1),
        max_delay: Duration::minutes(15),
        forget_after: Duration::hours(1),
        max_keys: 100_000,
    };
    /// Per client address, whatever the account: 20 free failures (a shared NAT), then the
    /// same growth. What stops one address spraying many accounts.
    pub const ADDRESS: Self = Self {
        free_failures: 20,
        ..Self::PAIR
    };
    /// Per account, from every address together: 10 free failures, then each attempt is
    /// held 1 s, 2 s, then 4 s at most before it is checked — slowed, never refused, so the
    /// right password from a new address always gets in.
    pub const ACCOUNT: Self = Self {
        free_failures: 10,
        max_delay: Duration::seconds(4),
        ..Self::PAIR
    };

    /// The wait imposed after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures <= self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures - 1).min(30);
        let delay = self.base_delay * 2_i32.saturating_pow(doublings).max(1);
        delay.min(self.max_delay)
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: OffsetDateTime,
}

#[derive(Debug)]
pub struct LoginThrottle<K> {
    policy: ThrottlePolicy,
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> LoginThrottle<K> {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: HashMap::new(),
        }
    }

    /// `Err(wait)` when an attempt for `key` must wait `wait` more before it is checked.
    pub fn check(&self, key: &K, now: OffsetDateTime) -> Result<(), Duration> {
        let Some(f) = self.entries.get(key) else {
            return Ok(());
        };
        if now - f.last >= self.policy.forget_after {
            return Ok(());
        }
        let ready_at = f.last + self.policy.delay_after(f.count);
        if now < ready_at {
            Err(ready_at - now)
        } else {
            Ok(())
        }
    }

    /// The pause the failures recorded for `key` call for now (zero when none).
    pub fn delay(&self, key: &K, now: OffsetDateTime) -> Duration {
        match self.entries.get(key) {
            Some(f) if now - f.last < self.policy.forget_after => self.policy.delay_after(f.count),
            _ => Duration::ZERO,
        }
    }

    pub fn record_failure(&mut self, key: &K, now: OffsetDateTime) {
        let forget = self.policy.forget_after;
        if !self.entries.contains_key(key) && self.entries.len() >= self.policy.max_keys {
            self.entries.retain(|_, f| now - f.last < forget);
            if self.entries.len() >= self.policy.max_keys
                && let Some(stalest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&stalest);
            }
        }
        let f = self.entries.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now - f.last >= forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
    }

    pub fn record_success(&mut self, key: &K) {
        self.entries.remove(key);
    }

    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn waits_grow_after_the_free_failures_and_are_capped() {
        let p = ThrottlePolicy::PAIR;
        assert_eq!(p.delay_after(5), Duration::ZERO);
        assert_eq!(p.delay_after(6), Duration::seconds(1));
        assert_eq!(p.delay_after(8), Duration::seconds(4));
        assert_eq!(p.delay_after(40), Duration::minutes(15));
        assert_eq!(p.delay_after(u32::MAX), Duration::minutes(15));
    }

    #[test]
    fn an_account_is_held_back_after_repeated_failures_and_freed_by_a_success() {
        let mut th = LoginThrottle::new(ThrottlePolicy::PAIR);
        for _ in 0..6 {
            assert!(th.check(&"alice", t(0)).is_ok());
            th.record_failure(&"alice", t(0));
        }
        assert_eq!(th.check(&"alice", t(0)), Err(Duration::seconds(1)));
        assert!(th.check(&"alice", t(1)).is_ok());
        assert!(th.check(&"bob", t(0)).is_ok());
        th.record_success(&"alice");
        assert!(th.check(&"alice", t(0)).is_ok());
    }

    #[test]
    fn quiet_keys_are_forgotten() {
        let mut th = LoginThrottle::new(ThrottlePolicy::PAIR);
        for _ in 0..30 {
            th.record_failure(&"alice", t(0));
        }
        assert!(th.check(&"alice", t(3600)).is_ok());
        th.record_failure(&"alice", t(3600));
        assert!(
            th.check(&"alice", t(3600)).is_ok(),
            "the count started afresh"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let policy = ThrottlePolicy {
            max_keys: 3,
            ..ThrottlePolicy::PAIR
        };
        let mut th = LoginThrottle::new(policy);
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            th.record_failure(k, t(i as i64));
        }
        assert_eq!(th.tracked(), 3);
    }

    #[test]
    fn an_account_under_attack_is_slowed_a_little_never_for_long() {
        let mut th = LoginThrottle::new(ThrottlePolicy::ACCOUNT);
        for _ in 0..10 {
            th.record_failure(&"alice", t(0));
        }
        assert_eq!(th.delay(&"alice", t(0)), Duration::ZERO);
        th.record_failure(&"alice", t(0));
        assert_eq!(th.delay(&"alice", t(0)), Duration::seconds(1));
        for _ in 0..1000 {
            th.record_failure(&"alice", t(0));
        }
        assert_eq!(th.delay(&"alice", t(0)), Duration::seconds(4));
        assert_eq!(th.delay(&"alice", t(3600)), Duration::ZERO);
        assert_eq!(th.delay(&"bob", t(0)), Duration::ZERO);
    }
}
