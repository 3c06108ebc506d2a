//! Per-statement latency from the log's duration lines: each statement's durations in a
//! window go into a sparse logarithmic histogram (2 % wide buckets), and at the end of the
//! window its calls, p50 / p95 / p99, maximum and total become a `pg_statement_latency` row.
//!
//! A statement is its query id (`%Q`, csvlog, jsonlog) or, without one, a hash of its
//! redacted text (`sql:…`), so the same statement groups whatever its literals. Memory is
//! bounded: at most [`MAX_STATEMENTS`] statements per window, the rest counted in one
//! `other` row per database.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::LogEvent;
use super::catalog::fnv;

/// The most statements tracked in one window.
pub const MAX_STATEMENTS: usize = 2_000;
/// Bucket width: each bucket's upper bound is 2 % above its lower one.
const GROWTH: f64 = 1.02;
/// The smallest duration told apart: 1 µs.
const FLOOR_MS: f64 = 0.001;

/// The columns of `pg_statement_latency` rows, `time` first.
pub const LATENCY_COLUMNS: &[&str] = &[
    "time", "datname", "query_id", "calls", "p50_ms", "p95_ms", "p99_ms", "max_ms", "total_ms",
];

/// A sparse histogram of durations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    buckets: BTreeMap<u16, u32>,
    calls: u64,
    max_ms: f64,
    total_ms: f64,
}

impl Histogram {
    pub fn observe(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let i = bucket(ms);
        *self.buckets.entry(i).or_default() += 1;
        self.calls += 1;
        self.max_ms = self.max_ms.max(ms);
        self.total_ms += ms;
    }

    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The `q` quantile (0–1), within 2 %: the upper bound of the bucket it falls in, but
    /// never above the largest duration seen.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.calls == 0 {
            return None;
        }
        let rank = ((q * self.calls as f64).ceil() as u64).clamp(1, self.calls);
        let mut seen = 0u64;
        for (i, n) in &self.buckets {
            seen += u64::from(*n);
            if seen >= rank {
                return Some(upper(*i).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

fn bucket(ms: f64) -> u16 {
    if ms <= FLOOR_MS {
        return 0;
    }
    ((ms / FLOOR_MS).ln() / GROWTH.ln())
        .ceil()
        .min(f64::from(u16::MAX)) as u16
}

fn upper(i: u16) -> f64 {
    FLOOR_MS * GROWTH.powi(i32::from(i))
}

type Key = (String, String, String);

/// One window's statements, per instance.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    statements: HashMap<Key, Histogram>,
}

impl LatencyWindow {
    /// Counts a duration event (`slow_statement`, `duration`) of `instance`.
    pub fn observe(&mut self, instance: &str, event: &LogEvent) {
        if !matches!(event.kind, "slow_statement" | "duration") {
            return;
        }
        let Some(ms) = event.duration_ms() else {
            return;
        };
        let datname = event.datname.clone().unwrap_or_default();
        let query = match &event.fields.query_id {
            Some(q) => q.clone(),
            None => match event.message.split_once(" ms  ") {
                Some((_, statement)) => format!("sql:{:012x}", fnv(statement) >> 16),
                // A bare `duration:` line (log_duration) names no statement.
                None => "unknown".to_owned(),
            },
        };
        let key = (instance.to_owned(), datname, query);
        let key = if self.statements.len() >= MAX_STATEMENTS && !self.statements.contains_key(&key)
        {
            (key.0, key.1, "other".to_owned())
        } else {
            key
        };
        self.statements.entry(key).or_default().observe(ms);
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Ends the window at `at`: its rows per instance, and a fresh window.
    pub fn take(&mut self, at: OffsetDateTime) -> BTreeMap<String, Vec<Vec<Value>>> {
        let time = at.format(&Rfc3339).unwrap_or_default();
        let mut out: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
        let mut statements: Vec<(Key, Histogram)> = self.statements.drain().collect();
        statements.sort_by(|a, b| a.0.cmp(&b.0));
        for ((instance, datname, query), h) in statements {
            out.entry(instance).or_default().push(vec![
                json!(time),
                json!(datname),
                json!(query),
                json!(h.calls),
                json!(h.quantile(0.50)),
                json!(h.quantile(0.95)),
                json!(h.quantile(0.99)),
                json!(h.max_ms),
                json!(h.total_ms),
            ]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_of_known_durations() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.observe(f64::from(ms));
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((50.0..=51.0).contains(&p50), "{p50}");
        assert!((99.0..=101.0).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), Some(100.0));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    proptest! {
        #[test]
        fn a_quantile_is_within_two_percent_of_the_exact_one(
            mut values in proptest::collection::vec(0.01f64..100_000.0, 1..300),
            q in 0.01f64..1.0,
        ) {
            let mut h = Histogram::default();
            for v in &values {
                h.observe(*v);
            }
            values.sort_by(f64::total_cmp);
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            let exact = values[rank - 1];
            let got = h.quantile(q).unwrap();
            prop_assert!(got >= exact * 0.999 && got <= exact * GROWTH * 1.001, "{got} vs {exact}");
        }
    }
}
