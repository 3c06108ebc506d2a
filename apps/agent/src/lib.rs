//! `pganalytics-agent`: collects PostgreSQL and host statistics, spools them durably and
//! pushes them to the server over mutual TLS. See docs/agent.md.
//!
//! A library with a thin binary, so that `pganalytics-server demo` can run the very same
//! agent as a child process of its own executable.

mod check;
mod collect;
mod config;
mod health;
mod identity;
mod logging;
mod logs;
mod outbox;
mod process;
mod prometheus;
mod register;
mod renew;
mod run;
mod selfmetrics;
mod sender;
mod sources;

use clap::{Parser, Subcommand};
use pganalytics_adapters::system::{OsRandom, SystemClock};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use crate::process::Process;

#[derive(Debug, Parser)]
#[command(name = "pganalytics-agent", version, about = "pgAnalytics agent")]
struct Cli {
    /// A TOML configuration file (see docs/agent.md); `PGANALYTICS_AGENT_*` variables
    /// override it.
    #[arg(long, global = true, env = "PGANALYTICS_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// Where the agent keeps its identity (key, certificate, CA) and state; overrides
    /// `state_dir` of the configuration.
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol with a server: make a key that never leaves this host, send a CSR with a
    /// registration token, and keep the certificate the server's CA issues.
    Register(register::Args),
    /// The daemon (the default): collect on schedule, spool, deliver.
    Run,
    /// Run one collection cycle.
    Collect(collect::Args),
    /// Check every target, collector, the server and the spool; print the fixes.
    Check,
    /// Exit 0 while the daemon on this state directory is alive (its heartbeat is under a
    /// minute old): a container's health check.
    Health,
    /// Renew the client certificate now (the daemon does it by itself when a third of its
    /// life is left).
    Renew,
}

/// The agent's command line: `args` as `std::env::args_os()` gives them. Where the agent's
/// process is wired: its one clock and one id source are made here.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> std::process::ExitCode {
    let cli = Cli::parse_from(args);
    let process = Process {
        clock: Arc::new(SystemClock),
        ids: Arc::new(OsRandom),
    };
    match dispatch(cli, &process) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        // `check` printed what is wrong already.
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pganalytics-agent: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` when it ran but found errors (`check`).
fn dispatch(cli: Cli, process: &Process) -> anyhow::Result<bool> {
    let mut config = config::AgentConfig::load(cli.config.as_deref())?;
    if let Some(dir) = cli.state_dir {
        config.state_dir = dir;
    }
    match cli.command.unwrap_or(Command::Run) {
        Command::Register(args) => register::run(&config.state_dir, args).map(|()| true),
        Command::Run => run::run(cli.config.as_deref(), config, process.clone()).map(|()| true),
        Command::Collect(args) => collect::run(&config, &args, process).map(|()| true),
        Command::Renew => renew_now(&config).map(|()| true),
        Command::Check => check::run(&config, process),
        Command::Health => health::run(&config.state_dir, process.clock.now()),
    }
}

fn renew_now(config: &config::AgentConfig) -> anyhow::Result<()> {
    renew::recover(&config.state_dir, config.server_url.as_deref())?;
    let identity = identity::Identity::load(&config.state_dir)?;
    let transport = identity.transport(config.server_url.as_deref())?;
    let renewed = renew::renew(&transport, &config.state_dir)?;
    if let Some((_, to)) = pganalytics_adapters::pki::validity(&renewed.cert_pem) {
        eprintln!("certificate renewed; valid until {to}");
    }
    Ok(())
}
