//! Rate limits: GCRA token buckets (the `governor` crate: no timer per key) in two budgets
//! so neither can starve the other. The people's API is limited per client address and,
//! separately, per presented credential (hashed; never kept in clear); the collectors'
//! endpoints per collector (its client certificate, or its address before it has one).

use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;

use crate::settings::Settings;

type Keyed = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One budget: a sustained rate and a burst, per key.
pub struct Budget {
    limiter: Keyed,
    pub burst: u32,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// The outcome of one check: allowed with what is left, or refused until some seconds.
pub enum Decision {
    Allowed { remaining: u32 },
    Refused { retry_after_secs: u64 },
}

impl Budget {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("at least 1");
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst_nz))
                .with_middleware::<StateInformationMiddleware>(),
            burst: burst.max(1),
        }
    }

    pub fn check(&self, key: &str) -> Decision {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Decision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision::Refused {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            }
        }
    }

    /// Forgets keys whose bucket is full again (bounded memory).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The server's budgets.
#[derive(Debug)]
pub struct RateLimits {
    pub people_by_address: Budget,
    pub people_by_credential: Budget,
    pub ingest: Budget,
}

impl RateLimits {
    pub fn new(settings: &Settings) -> Self {
        let people = || Budget::new(settings.rate_people_per_second, settings.rate_people_burst);
        Self {
            people_by_address: people(),
            people_by_credential: people(),
            ingest: Budget::new(settings.rate_ingest_per_second, settings.rate_ingest_burst),
        }
    }

    pub fn prune(&self) {
        self.people_by_address.prune();
        self.people_by_credential.prune();
        self.ingest.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_burst_then_refuses_with_a_wait() {
        let b = Budget::new(1, 3);
        for left in [2, 1, 0] {
            assert!(matches!(b.check("k"), Decision::Allowed { remaining } if remaining == left));
        }
        assert!(matches!(
            b.check("k"),
            Decision::Refused {
                retry_after_secs: 1
            }
        ));
        assert!(matches!(b.check("other"), Decision::Allowed { .. }));
    }
}
