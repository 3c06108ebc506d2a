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

/// One host collector: how it reads this machine.
type Read = fn(&ProcHost) -> procfs::ProcResult<CollectedRows>;

/// Every host collector, named after the family it produces; the catalog says which group
/// runs it ([`pganalytics_domain::catalog::family_group`]).
const COLLECTORS: &[(&str, Read)] = &[
    ("sys_cpu", |_| cpu::read()),
    ("sys_memory", |_| memory::read()),
    ("sys_load", |_| load::read()),
    ("sys_disk_io", |_| disk_io::read()),
    ("sys_network", |_| network::read()),
    ("sys_pressure", |_| pressure::read()),
    ("disk_usage", |host| disk_usage::read(&host.roles)),
];

impl Source for ProcHost {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn collectors(&self, group: Group) -> Vec<&'static str> {
        COLLECTORS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| group.collects(name))
            .collect()
    }

    fn read(&mut self, collector: &'static str) -> Reading {
        match COLLECTORS.iter().find(|(name, _)| *name == collector) {
            Some((_, read_host)) => read(collector, || read_host(self)),
            None => Reading::timed(collector, || {
                Err(SourceError::new(
                    collector,
                    "the host has no such collector",
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
