//! Where the agent's collectors read from (sync: the agent is threads).

use pganalytics_domain::collect::CollectedRows;

use crate::BoxError;

#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    pub source_name: &'static str,
    pub message: String,
    #[source]
    pub cause: Option<BoxError>,
}

/// Host statistics: CPU, memory, load, disk I/O, network, disk usage.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait HostSource: Send {
    /// One reading of every host family. A family that cannot be read is reported in the
    /// errors while the others are still returned: one failing source never stops a cycle.
    fn collect(&mut self) -> (Vec<CollectedRows>, Vec<SourceError>);
}
