//! Counter deltas with reset handling, per-second rates, and downsampling.
//!
//! Shared by the agent (deltas of `pg_stat_statements`) and the server's queries (rates of
//! stored counters). A counter that goes down was reset (a `pg_stat_reset()`, a restart, a
//! deallocated statement): the increase since the reset is the new value itself, the same
//! choice Prometheus makes, so a reset never shows up as a negative or huge spike.

use time::{Duration, OffsetDateTime};

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

/// Per-second rates between consecutive readings of a counter, stamped at the later reading.
/// Readings must be in time order; readings with equal times are skipped.
pub fn counter_rates(points: &[Point]) -> Vec<Point> {
    points
        .windows(2)
        .filter_map(|w| {
            let dt = (w[1].time - w[0].time).as_seconds_f64();
            if dt <= 0.0 {
                return None;
            }
            let delta = if w[1].value >= w[0].value {
                w[1].value - w[0].value
            } else {
                w[1].value.max(0.0)
            };
            Some(Point {
                time: w[1].time,
                value: delta / dt,
            })
        })
        .collect()
}

/// Averages readings into buckets of `step` aligned on `origin`; each output point is stamped
/// with its bucket's start. Readings must be in time order.
pub fn downsample(points: &[Point], origin: OffsetDateTime, step: Duration) -> Vec<Point> {
    let step_ns = step.whole_nanoseconds().max(1);
    let bucket_of = |t: OffsetDateTime| ((t - origin).whole_nanoseconds()).div_euclid(step_ns);
    let mut out: Vec<Point> = Vec::new();
    let mut current: Option<(i128, f64, u32)> = None;
    let flush = |b: i128, sum: f64, n: u32, out: &mut Vec<Point>| {
        let start = origin + Duration::nanoseconds_i128(b * step_ns);
        out.push(Point {
            time: start,
            value: sum / f64::from(n),
        });
    };
    for p in points {
        let b = bucket_of(p.time);
        current = match current {
            Some((cb, sum, n)) if cb == b => Some((cb, sum + p.value, n + 1)),
            Some((cb, sum, n)) => {
                flush(cb, sum, n, &mut out);
                Some((b, p.value, 1))
            }
            None => Some((b, p.value, 1)),
        };
    }
    if let Some((cb, sum, n)) = current {
        flush(cb, sum, n, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }
    fn p(s: i64, v: f64) -> Point {
        Point {
            time: at(s),
            value: v,
        }
    }

    #[test]
    fn a_counter_going_down_is_a_reset_not_a_negative_delta() {
        assert_eq!(diff_since(10, 15), CounterDelta::Increase(5));
        assert_eq!(diff_since(100, 7), CounterDelta::Reset { since_reset: 7 });
        assert_eq!(diff_since(100, 7).amount(), 7);
    }

    #[test]
    fn rates_are_per_second_and_survive_resets() {
        let r = counter_rates(&[
            p(0, 100.0),
            p(10, 200.0),
            p(20, 50.0),
            p(20, 60.0),
            p(30, 110.0),
        ]);
        assert_eq!(r, vec![p(10, 10.0), p(20, 5.0), p(30, 5.0)]);
    }

    #[test]
    fn downsampling_averages_within_aligned_buckets() {
        let d = downsample(
            &[p(0, 1.0), p(30, 3.0), p(60, 10.0), p(185, 4.0)],
            at(0),
            Duration::minutes(1),
        );
        assert_eq!(d, vec![p(0, 2.0), p(60, 10.0), p(180, 4.0)]);
    }

    proptest! {
        #[test]
        fn rates_of_any_counter_series_are_never_negative(values in prop::collection::vec(0i64..1_000_000, 0..50)) {
            let pts: Vec<Point> = values.iter().enumerate().map(|(i, v)| p(i as i64 * 15, *v as f64)).collect();
            prop_assert!(counter_rates(&pts).iter().all(|r| r.value >= 0.0));
        }
    }
}
