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
use pganalytics_domain::config::FamilyFilter;
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

type Reader<'a> = (
    &'static str,
    Box<dyn FnOnce() -> procfs::ProcResult<CollectedRows> + 'a>,
);

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

    fn collect(&mut self, group: Group, enabled: &FamilyFilter) -> Vec<Reading> {
        let readers: Vec<Reader<'_>> = match group {
            Group::Host => vec![
                ("sys_cpu", Box::new(cpu::read)),
                ("sys_memory", Box::new(memory::read)),
                ("sys_load", Box::new(load::read)),
                ("sys_disk_io", Box::new(disk_io::read)),
                ("sys_network", Box::new(network::read)),
                ("sys_pressure", Box::new(pressure::read)),
            ],
            Group::Disk => vec![("disk_usage", Box::new(|| disk_usage::read(&self.roles)))],
            _ => Vec::new(),
        };
        readers
            .into_iter()
            .filter(|(name, _)| enabled.allows(name))
            .map(|(name, f)| read(name, f))
            .collect()
    }
}

#[cfg(test)]
mod tests;
