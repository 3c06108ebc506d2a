//! `pg_stat_statements` between two readings: what each statement did during the interval,
//! and which statements made the top N by execution time.
//!
//! The view's counters are cumulative since the entry was created. An entry can disappear
//! (evicted when the view is full: `dealloc`) and come back with fresh counters, and the
//! whole view can be reset (`pg_stat_statements_reset()`, which moves `stats_reset`). So:
//! - a reset of the view: every entry counts from zero, its delta is its value;
//! - an entry whose `calls` went down was evicted and re-created: its delta is its value;
//! - an entry not seen before was created during the interval: its delta is its value;
//! - the agent's first reading is only a baseline (it cannot know what happened before).

use std::collections::HashMap;
use time::OffsetDateTime;

use crate::rates::diff_since;

/// Identifies a statement: database, role and the normalised query's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementKey {
    pub datname: String,
    pub username: String,
    pub queryid: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatementCounters {
    pub calls: i64,
    pub exec_time_ms: f64,
    pub plan_time_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub temp_blks_written: i64,
    pub blk_read_time_ms: f64,
    pub blk_write_time_ms: f64,
    pub wal_bytes: f64,
}

impl StatementCounters {
    /// The change since `prev`, which must be the same entry's earlier reading.
    fn since(&self, prev: &Self) -> Self {
        if self.calls < prev.calls {
            return *self;
        }
        let i = |cur: i64, old: i64| diff_since(old, cur).amount();
        let f = |cur: f64, old: f64| (cur - old).max(0.0);
        Self {
            calls: i(self.calls, prev.calls),
            exec_time_ms: f(self.exec_time_ms, prev.exec_time_ms),
            plan_time_ms: f(self.plan_time_ms, prev.plan_time_ms),
            rows: i(self.rows, prev.rows),
            shared_blks_hit: i(self.shared_blks_hit, prev.shared_blks_hit),
            shared_blks_read: i(self.shared_blks_read, prev.shared_blks_read),
            shared_blks_dirtied: i(self.shared_blks_dirtied, prev.shared_blks_dirtied),
            shared_blks_written: i(self.shared_blks_written, prev.shared_blks_written),
            temp_blks_written: i(self.temp_blks_written, prev.temp_blks_written),
            blk_read_time_ms: f(self.blk_read_time_ms, prev.blk_read_time_ms),
            blk_write_time_ms: f(self.blk_write_time_ms, prev.blk_write_time_ms),
            wal_bytes: f(self.wal_bytes, prev.wal_bytes),
        }
    }
}

/// One reading of the whole view.
#[derive(Debug, Clone, Default)]
pub struct StatementsSnapshot {
    pub taken_at: Option<OffsetDateTime>,
    /// `pg_stat_statements_info.stats_reset` (14+); `None` where unknown.
    pub stats_reset: Option<OffsetDateTime>,
    pub entries: HashMap<StatementKey, StatementCounters>,
}

/// What each statement did between `prev` and `cur`, the `top_n` with the most execution
/// time first, with the interval in seconds. `None` when `prev` is no baseline (the first
/// reading).
pub fn top_deltas(
    prev: &StatementsSnapshot,
    cur: &StatementsSnapshot,
    top_n: usize,
) -> Option<(f64, Vec<(StatementKey, StatementCounters)>)> {
    let (Some(before), Some(now)) = (prev.taken_at, cur.taken_at) else {
        return None;
    };
    let view_reset = prev.stats_reset != cur.stats_reset;
    let mut deltas: Vec<(StatementKey, StatementCounters)> = cur
        .entries
        .iter()
        .map(|(key, counters)| {
            let delta = match prev.entries.get(key) {
                Some(old) if !view_reset => counters.since(old),
                _ => *counters,
            };
            (key.clone(), delta)
        })
        .filter(|(_, d)| d.calls > 0)
        .collect();
    deltas.sort_by(|a, b| {
        b.1.exec_time_ms
            .total_cmp(&a.1.exec_time_ms)
            .then_with(|| a.0.cmp(&b.0))
    });
    deltas.truncate(top_n);
    Some(((now - before).as_seconds_f64(), deltas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(q: i64) -> StatementKey {
        StatementKey {
            datname: "app".into(),
            username: "app".into(),
            queryid: q,
        }
    }

    fn counters(calls: i64, ms: f64) -> StatementCounters {
        StatementCounters {
            calls,
            exec_time_ms: ms,
            rows: calls,
            ..StatementCounters::default()
        }
    }

    fn snap(at: OffsetDateTime, entries: &[(i64, i64, f64)]) -> StatementsSnapshot {
        StatementsSnapshot {
            taken_at: Some(at),
            stats_reset: None,
            entries: entries
                .iter()
                .map(|(q, c, ms)| (key(*q), counters(*c, *ms)))
                .collect(),
        }
    }

    const T0: OffsetDateTime = datetime!(2026-11-21 07:00 UTC);
    const T1: OffsetDateTime = datetime!(2026-11-21 07:05 UTC);

    #[test]
    fn the_first_reading_is_only_a_baseline() {
        let cur = snap(T0, &[(1, 10, 5.0)]);
        assert!(top_deltas(&StatementsSnapshot::default(), &cur, 10).is_none());
    }

    #[test]
    fn deltas_rank_by_execution_time_and_idle_statements_are_left_out() {
        let prev = snap(T0, &[(1, 10, 100.0), (2, 5, 10.0), (3, 7, 7.0)]);
        let cur = snap(T1, &[(1, 12, 130.0), (2, 9, 210.0), (3, 7, 7.0)]);
        let (secs, top) = top_deltas(&prev, &cur, 10).unwrap();
        assert_eq!(secs, 300.0);
        let got: Vec<(i64, i64, f64)> = top
            .iter()
            .map(|(k, d)| (k.queryid, d.calls, d.exec_time_ms))
            .collect();
        assert_eq!(got, [(2, 4, 200.0), (1, 2, 30.0)]);
        assert_eq!(top_deltas(&prev, &cur, 1).unwrap().1.len(), 1);
    }

    #[test]
    fn evicted_new_and_reset_entries_count_from_zero() {
        let prev = snap(T0, &[(1, 100, 100.0), (2, 5, 10.0)]);
        // 1 was evicted and came back with 3 calls; 4 is new.
        let cur = snap(T1, &[(1, 3, 2.0), (2, 6, 11.0), (4, 2, 1.0)]);
        let (_, top) = top_deltas(&prev, &cur, 10).unwrap();
        let calls: HashMap<i64, i64> = top.iter().map(|(k, d)| (k.queryid, d.calls)).collect();
        assert_eq!(calls, HashMap::from([(1, 3), (2, 1), (4, 2)]));

        let mut after_reset = snap(T1, &[(2, 6, 11.0)]);
        after_reset.stats_reset = Some(T1);
        let (_, top) = top_deltas(&prev, &after_reset, 10).unwrap();
        assert_eq!(
            top[0].1.calls, 6,
            "after a reset of the view the value is the delta"
        );
    }
}
