//! Where the agent's collectors read from (sync: the agent is threads).

use std::time::Duration;

use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::config::FamilyFilter;
use pganalytics_domain::schedule::Group;

use crate::BoxError;

#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    pub source_name: &'static str,
    pub message: String,
    #[source]
    pub cause: Option<BoxError>,
}

impl SourceError {
    pub fn new(source_name: &'static str, message: impl Into<String>) -> Self {
        Self {
            source_name,
            message: message.into(),
            cause: None,
        }
    }
}

/// What one collector (one stats view, one host source) read in one run.
#[derive(Debug)]
pub struct Reading {
    /// The collector, e.g. `pg_table` or `sys_cpu`: what self-metrics are labelled with.
    pub collector: &'static str,
    pub duration: Duration,
    pub result: Result<Vec<CollectedRows>, SourceError>,
}

impl Reading {
    /// Times `read` and labels its outcome with `collector`.
    pub fn timed(
        collector: &'static str,
        read: impl FnOnce() -> Result<Vec<CollectedRows>, SourceError>,
    ) -> Self {
        let started = std::time::Instant::now();
        let result = read();
        Self {
            collector,
            duration: started.elapsed(),
            result,
        }
    }
}

/// One place the agent collects from: a PostgreSQL instance, or the host.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Source: Send {
    /// The instance name the rows describe (`metrics[].instance` in the batch).
    fn instance(&self) -> &str;

    /// This source's collectors in `group`, by name (each named after its family).
    fn collectors(&self, group: Group) -> Vec<&'static str>;

    /// Runs one collector (one of [`collectors`](Self::collectors)). A failure is reported
    /// in the reading: one failing collector never stops a cycle.
    fn read(&mut self, collector: &'static str) -> Reading;

    /// Runs every collector of `group` whose family `enabled` allows.
    fn collect(&mut self, group: Group, enabled: &FamilyFilter) -> Vec<Reading> {
        self.collectors(group)
            .into_iter()
            .filter(|c| enabled.allows(c))
            .map(|c| self.read(c))
            .collect()
    }
}
