//! Host statistics from procfs and statvfs, one file per source. Counters are reported as
//! the kernel keeps them (cumulative); rates are computed from deltas later.

mod cpu;
mod disk_io;
mod disk_usage;
mod load;
mod memory;
mod network;
mod pressure;

use pganalytics_domain::collect::CollectedRows;
use pganalytics_domain::schedule::Group;
use pganalytics_ports::sources::{Reading, Source, SourceError};
use std::path::PathBuf;

pub use disk_usage::DiskRole;

/// Reads every host family from this machine.
#[derive(Debug, Default)]
pub struct ProcHost {
    /// The instance the host's rows are filed under.
    pub instance: String,
    /// Paths whose file system gets a role label in `disk_usage` (the data directory, WAL).
    pub roles: Vec<(PathBuf, DiskRole)>,
}

fn read(name: &'static str, f: impl FnOnce() -> procfs::ProcResult<CollectedRows>) -> Reading {
    Reading::timed(name, || {
        f().map(|rows| vec![rows]).map_err(|e| SourceError {
            source_name: name,
            message: e.to_string(),
            cause: Some(Box::new(e)),
        })
    })
}

impl Source for ProcHost {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn collectors(&self, group: Group) -> Vec<&'static str> {
        match group {
            Group::Host => vec![
                "sys_cpu",
                "sys_memory",
                "sys_load",
                "sys_disk_io",
                "sys_network",
                "sys_pressure",
            ],
            Group::Disk => vec!["disk_usage"],
            _ => Vec::new(),
        }
    }

    fn read(&mut self, collector: &'static str) -> Reading {
        match collector {
            "sys_cpu" => read(collector, cpu::read),
            "sys_memory" => read(collector, memory::read),
            "sys_load" => read(collector, load::read),
            "sys_disk_io" => read(collector, disk_io::read),
            "sys_network" => read(collector, network::read),
            "sys_pressure" => read(collector, pressure::read),
            "disk_usage" => read(collector, || disk_usage::read(&self.roles)),
            other => Reading::timed(other, || {
                Err(SourceError::new(other, "the host has no such collector"))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
