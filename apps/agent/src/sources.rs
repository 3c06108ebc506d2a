//! Builds the agent's sources from its configuration: one PostgreSQL target per `[[targets]]`
//! and the host.

use pganalytics_adapters::host::{DiskRole, ProcHost};
use pganalytics_adapters::pgstats::{CatalogOptions, PgTarget, SessionLimits, StatementsOptions};
use pganalytics_ports::sources::Source;
use std::time::Duration;

use crate::config::AgentConfig;

pub fn targets(config: &AgentConfig) -> Vec<PgTarget> {
    let limits = SessionLimits {
        statement_timeout: Duration::from_millis(config.statement_timeout_ms),
        lock_timeout: Duration::from_millis(config.lock_timeout_ms),
    };
    let statements = StatementsOptions {
        top_n: config.statements.top_n,
        send_texts: config.statements.send_texts,
        ..StatementsOptions::default()
    };
    config
        .targets
        .iter()
        .map(|t| {
            let catalog = CatalogOptions {
                top_n: config.catalog.top_n,
                page_size: config.catalog.page_size,
                rollup_partitions: t
                    .rollup_partitions
                    .unwrap_or(config.catalog.rollup_partitions),
            };
            PgTarget::with_statements(&t.name, t.dsn.clone(), limits.clone(), statements.clone())
                .with_catalog(catalog)
        })
        .collect()
}

/// Every source: the targets, then the host (whose disk usage labels the file systems of
/// the targets' data directories and WAL when they are on this host).
pub fn all(config: &AgentConfig) -> Vec<Box<dyn Source>> {
    let mut targets = targets(config);
    let mut roles = Vec::new();
    for t in &mut targets {
        if let Some(dir) = t.data_directory() {
            roles.push((dir.join("pg_wal"), DiskRole::Wal));
            roles.push((dir, DiskRole::DataDirectory));
        }
    }
    let host = ProcHost {
        instance: config.host_instance(),
        roles,
    };
    let mut sources: Vec<Box<dyn Source>> = targets
        .into_iter()
        .map(|t| Box::new(t) as Box<dyn Source>)
        .collect();
    sources.push(Box::new(host));
    sources
}
