//! Which collector groups run when.
//!
//! Every family belongs to one group, and every group has its own interval (see
//! [`crate::config::Intervals`]). The agent's loop asks which groups are due, runs them one
//! after the other, and reports when each finished. A group that is still running when its
//! next tick comes does not queue ticks up: the ticks it missed are skipped and counted, so a
//! slow database is never hit by a burst of catch-up queries.
//!
//! Time is a monotonic offset since the agent started, passed in by the caller.

use std::time::Duration;

pub use crate::catalog::Group;
use crate::config::Intervals;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    next_due: Duration,
    last_start: Option<Duration>,
    skipped: u64,
}

/// When each group is next due.
#[derive(Debug, Clone)]
pub struct Schedule {
    intervals: Intervals,
    slots: [Slot; 7],
}

impl Schedule {
    /// Every group is due at once (`now`), so the first batch has everything.
    pub fn new(intervals: Intervals, now: Duration) -> Self {
        Self {
            intervals,
            slots: [Slot {
                next_due: now,
                last_start: None,
                skipped: 0,
            }; 7],
        }
    }

    fn slot(&mut self, group: Group) -> &mut Slot {
        &mut self.slots[group as usize]
    }

    /// The groups due at `now`, in [`Group::ALL`] order.
    pub fn due(&self, now: Duration) -> Vec<Group> {
        Group::ALL
            .into_iter()
            .filter(|g| self.slots[*g as usize].next_due <= now)
            .collect()
    }

    /// When the next group is due.
    pub fn next_due(&self) -> Duration {
        self.slots
            .iter()
            .map(|s| s.next_due)
            .min()
            .unwrap_or_default()
    }

    /// Records that `group` ran from `started` to `finished`. Its next tick is one interval
    /// after the tick it ran for; ticks that passed while it ran are skipped and counted.
    pub fn completed(&mut self, group: Group, started: Duration, finished: Duration) {
        let interval = group.interval(&self.intervals);
        let slot = self.slot(group);
        // The tick this run was for: its due time, or its start if it began more than an
        // interval late (a suspended machine), so the cadence re-anchors instead of bursting.
        let tick = if started.saturating_sub(slot.next_due) >= interval {
            started
        } else {
            slot.next_due
        };
        let mut next = tick + interval;
        while next <= finished {
            next += interval;
            slot.skipped += 1;
        }
        slot.next_due = next;
        slot.last_start = Some(started);
    }

    /// Ticks skipped so far because the group was still running, per group.
    pub fn skipped(&self, group: Group) -> u64 {
        self.slots[group as usize].skipped
    }

    /// New intervals (a configuration change): each group's next tick is one new interval
    /// after its last start (due at once if that has passed).
    pub fn set_intervals(&mut self, intervals: Intervals) {
        self.intervals = intervals;
        for group in Group::ALL {
            let interval = group.interval(&self.intervals);
            let slot = self.slot(group);
            if let Some(start) = slot.last_start {
                slot.next_due = start + interval;
            }
        }
    }

    pub fn intervals(&self) -> &Intervals {
        &self.intervals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn every_group_is_due_at_start_and_then_at_its_own_interval() {
        let mut sched = Schedule::new(Intervals::default(), s(0));
        assert_eq!(sched.due(s(0)).len(), 7);
        for g in Group::ALL {
            sched.completed(g, s(0), s(1));
        }
        assert_eq!(sched.next_due(), s(15));
        assert_eq!(sched.due(s(15)), vec![Group::Activity]);
        sched.completed(Group::Activity, s(15), s(15));
        assert_eq!(
            sched.due(s(60)),
            vec![
                Group::Activity,
                Group::Database,
                Group::Replication,
                Group::Host
            ]
        );
        assert!(sched.due(s(299)).iter().all(|g| *g != Group::Tables));
        assert!(sched.due(s(300)).contains(&Group::Tables));
    }

    #[test]
    fn a_group_still_running_at_its_next_tick_skips_it_and_counts_it() {
        let mut sched = Schedule::new(Intervals::default(), s(0));
        // Activity (15 s) took 40 s: the ticks at 15 and 30 passed while it ran.
        sched.completed(Group::Activity, s(0), s(40));
        assert_eq!(sched.skipped(Group::Activity), 2);
        assert_eq!(sched.slots[Group::Activity as usize].next_due, s(45));
        // A late start does not shift the cadence by the lateness.
        sched.completed(Group::Activity, s(46), s(47));
        assert_eq!(sched.slots[Group::Activity as usize].next_due, s(60));
        assert_eq!(sched.skipped(Group::Activity), 2);
    }

    #[test]
    fn after_a_long_pause_the_schedule_does_not_burst_to_catch_up() {
        let mut sched = Schedule::new(Intervals::default(), s(0));
        sched.completed(Group::Host, s(0), s(0));
        // The machine was suspended for an hour: one run, then the normal cadence.
        sched.completed(Group::Host, s(3600), s(3601));
        assert_eq!(sched.slots[Group::Host as usize].next_due, s(3660));
        assert_eq!(sched.skipped(Group::Host), 0);
    }

    #[test]
    fn shorter_intervals_from_the_server_take_effect_from_the_last_start() {
        let mut sched = Schedule::new(Intervals::default(), s(0));
        sched.completed(Group::Tables, s(0), s(2));
        assert_eq!(sched.slots[Group::Tables as usize].next_due, s(300));
        let faster = Intervals {
            tables: 30,
            ..Intervals::default()
        };
        sched.set_intervals(faster);
        assert_eq!(sched.slots[Group::Tables as usize].next_due, s(30));
    }

    #[test]
    fn every_catalog_family_but_logs_latency_and_the_agent_belongs_to_exactly_one_group() {
        for f in crate::catalog::FAMILIES {
            let n = Group::ALL
                .iter()
                .filter(|g| g.families().any(|x| x.name == f.name))
                .count();
            let expected = usize::from(!matches!(
                f.name,
                "pg_log_event" | "pg_statement_latency" | "agent"
            ));
            assert_eq!(n, expected, "{}", f.name);
        }
    }
}
