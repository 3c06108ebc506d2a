//! `pganalytics-agent collect --once [--print]`: one cycle of every group. With `--print` the
//! batch is printed as JSON and nothing is spooled; without it the batch is spooled for the
//! daemon to send.

use anyhow::Context as _;
use pganalytics_adapters::spool::{DiskSpool, SpoolOptions};
use pganalytics_domain::schedule::Group;
use pganalytics_ports::usecases::CollectCycle;
use std::time::Instant;

use crate::config::AgentConfig;
use crate::identity::Identity;
use crate::outbox::{Contents, Outbox};
use crate::process::Process;
use crate::selfmetrics::SelfMetrics;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run one cycle and exit (the only mode for now; the daemon is `run`).
    #[arg(long, required = true)]
    once: bool,
    /// Print the batch as JSON instead of spooling it.
    #[arg(long)]
    print: bool,
}

pub fn run(config: &AgentConfig, args: &Args, process: &Process) -> anyhow::Result<()> {
    debug_assert!(args.once);
    // Unregistered agents may print (to try the collectors out); spooling needs an identity.
    let collector_id = match Identity::load(&config.state_dir) {
        Ok(identity) => identity.collector_id,
        Err(_) if args.print => uuid::Uuid::nil(),
        Err(e) => return Err(e),
    };
    let started = Instant::now();
    let mut cycle = CollectCycle::new(
        crate::sources::all(config),
        config.intervals.clone(),
        started.elapsed(),
    );
    let at = process.clock.now();
    let report = cycle.run(&Group::ALL, &|| started.elapsed(), at);
    for r in report.runs.iter().filter(|r| r.error.is_some()) {
        eprintln!(
            "{} {}: {}",
            r.instance,
            r.collector,
            r.error.as_deref().unwrap_or("")
        );
    }
    let metrics = SelfMetrics::default();
    metrics.record_runs(&report.runs);
    let outbox = Outbox {
        collector_id,
        ids: process.ids.clone(),
    };
    let batch = outbox.assemble(
        at,
        Contents {
            blocks: report.blocks,
            own_figures: Some(&metrics),
            ..Contents::default()
        },
    );
    if args.print {
        println!("{}", serde_json::to_string_pretty(&batch)?);
        return Ok(());
    }
    let dir = config.spool_dir();
    let mut spool = DiskSpool::open(
        &dir,
        SpoolOptions {
            max_bytes: config.spool_max_bytes,
            ..SpoolOptions::default()
        },
    )
    .with_context(|| format!("opening the spool in {}", dir.display()))?;
    let id = crate::outbox::spool(&mut spool, &batch)?.id;
    eprintln!(
        "spooled batch {} ({} rows) as record {id} in {}",
        batch.batch_id,
        batch.rows(),
        dir.display()
    );
    Ok(())
}
