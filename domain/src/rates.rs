//! Counter deltas with reset handling.
//!
//! Shared by the agent (deltas of `pg_stat_statements`) and the server's queries (rates of
//! stored counters). A counter that goes down was reset (a `pg_stat_reset()`, a restart, a
//! deallocated statement): the increase since the reset is the new value itself, the same
//! choice Prometheus makes, so a reset never shows up as a negative or huge spike.

use time::OffsetDateTime;

/// The change of a cumulative counter between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterDelta {
    Increase(i64),
    /// The counter went down: it restarted from zero and has counted `since_reset` since.
    Reset {
        since_reset: i64,
    },
}

impl CounterDelta {
    pub fn amount(self) -> i64 {
        match self {
            Self::Increase(d) => d,
            Self::Reset { since_reset } => since_reset,
        }
    }
}

/// The change from `prev` to `current`.
pub fn diff_since(prev: i64, current: i64) -> CounterDelta {
    if current >= prev {
        CounterDelta::Increase(current - prev)
    } else {
        CounterDelta::Reset {
            since_reset: current.max(0),
        }
    }
}

/// One reading of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time: OffsetDateTime,
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_going_down_is_a_reset_not_a_negative_delta() {
        assert_eq!(diff_since(10, 15), CounterDelta::Increase(5));
        assert_eq!(diff_since(100, 7), CounterDelta::Reset { since_reset: 7 });
        assert_eq!(diff_since(100, 7).amount(), 7);
    }
}
