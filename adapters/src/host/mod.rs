//! Host statistics from procfs and statvfs, one file per source. Counters are reported as
//! the kernel keeps them (cumulative); rates are computed from deltas later.

mod cpu;
mod disk_io;
mod disk_usage;
mod load;
mod memory;
mod network;

use pganalytics_domain::collect::CollectedRows;
use pganalytics_ports::sources::{HostSource, SourceError};
use std::path::PathBuf;

pub use disk_usage::DiskRole;

/// Reads every host family from this machine.
#[derive(Debug, Default)]
pub struct ProcHost {
    /// Paths whose file system gets a role label in `disk_usage` (the data directory, WAL).
    pub roles: Vec<(PathBuf, DiskRole)>,
}

fn failed(
    source_name: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> SourceError {
    SourceError {
        source_name,
        message: e.to_string(),
        cause: Some(Box::new(e)),
    }
}

impl HostSource for ProcHost {
    fn collect(&mut self) -> (Vec<CollectedRows>, Vec<SourceError>) {
        let readings = [
            cpu::read().map_err(|e| failed("sys_cpu", e)),
            memory::read().map_err(|e| failed("sys_memory", e)),
            load::read().map_err(|e| failed("sys_load", e)),
            disk_io::read().map_err(|e| failed("sys_disk_io", e)),
            network::read().map_err(|e| failed("sys_network", e)),
            disk_usage::read(&self.roles).map_err(|e| failed("disk_usage", e)),
        ];
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for r in readings {
            match r {
                Ok(r) => rows.push(r),
                Err(e) => errors.push(e),
            }
        }
        (rows, errors)
    }
}

#[cfg(test)]
mod tests;
