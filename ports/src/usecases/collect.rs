//! `CollectCycle`: runs the collector groups that are due over every source and turns what
//! they read into batch blocks. A failing collector is reported and the cycle goes on.

use std::time::Duration;

use pganalytics_domain::batch::EncodedBlock;
use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::config::{CollectorConfig, FamilyFilter, Intervals};
use pganalytics_domain::schedule::{Group, Schedule};
use time::OffsetDateTime;

use crate::sources::Source;

/// One collector's run, for the agent's self-metrics and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub instance: String,
    pub collector: &'static str,
    pub duration: Duration,
    pub rows: usize,
    pub error: Option<String>,
}

/// What one cycle produced.
#[derive(Debug, Default)]
pub struct CycleReport {
    pub groups: Vec<Group>,
    /// Encoded as soon as each collector returned (see `EncodedBlock`).
    pub blocks: Vec<EncodedBlock>,
    pub runs: Vec<RunSummary>,
}

impl CycleReport {
    pub fn rows(&self) -> usize {
        self.blocks.iter().map(|b| b.row_count).sum()
    }
}

pub struct CollectCycle {
    sources: Vec<Box<dyn Source>>,
    schedule: Schedule,
    filter: FamilyFilter,
}

impl std::fmt::Debug for CollectCycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectCycle")
            .field("sources", &self.sources.len())
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl CollectCycle {
    /// Every group is due at `now` (a monotonic offset).
    pub fn new(sources: Vec<Box<dyn Source>>, intervals: Intervals, now: Duration) -> Self {
        Self {
            sources,
            schedule: Schedule::new(intervals, now),
            filter: FamilyFilter::all(),
        }
    }

    /// When the next group is due.
    pub fn next_due(&self) -> Duration {
        self.schedule.next_due()
    }

    /// The server's configuration: its intervals and families take effect from now on.
    pub fn apply(&mut self, config: &CollectorConfig) {
        self.schedule.set_intervals(config.intervals.clone());
        self.filter = FamilyFilter::from_config(config);
    }

    pub fn intervals(&self) -> &Intervals {
        self.schedule.intervals()
    }

    /// Ticks skipped so far because a group was still running.
    pub fn skipped_ticks(&self) -> u64 {
        Group::ALL.iter().map(|g| self.schedule.skipped(*g)).sum()
    }

    /// Runs the groups due at `clock()`; `clock` is read again as each group ends. Rows are
    /// stamped `collected_at`.
    pub fn run_due(
        &mut self,
        clock: &dyn Fn() -> Duration,
        collected_at: OffsetDateTime,
    ) -> CycleReport {
        let groups = self.schedule.due(clock());
        self.run(&groups, clock, collected_at)
    }

    /// Runs `groups` now, whatever the schedule says (`collect --once`, `check`).
    pub fn run(
        &mut self,
        groups: &[Group],
        clock: &dyn Fn() -> Duration,
        collected_at: OffsetDateTime,
    ) -> CycleReport {
        let mut report = CycleReport {
            groups: groups.to_vec(),
            ..CycleReport::default()
        };
        for group in groups {
            let started = clock();
            for source in &mut self.sources {
                let instance = source.instance().to_owned();
                let collectors = source.collectors(*group);
                // One collector at a time, its rows encoded before the next one reads: a
                // cycle's memory is one family's values, not the whole group's.
                for name in collectors.into_iter().filter(|c| self.filter.allows(c)) {
                    let reading = source.read(name);
                    let (rows, error) = match reading.result {
                        Ok(collected) => {
                            let n = collected.iter().map(CollectedRows::len).sum();
                            report.blocks.extend(
                                collected
                                    .into_iter()
                                    .filter(|c| !c.is_empty())
                                    .map(|c| c.into_block(&instance, collected_at)),
                            );
                            (n, None)
                        }
                        Err(e) => (0, Some(e.message)),
                    };
                    report.runs.push(RunSummary {
                        instance: instance.clone(),
                        collector: reading.collector,
                        duration: reading.duration,
                        rows,
                        error,
                    });
                }
            }
            self.schedule.completed(*group, started, clock());
        }
        report
    }
}
