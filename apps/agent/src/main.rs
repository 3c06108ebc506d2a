//! `pganalytics-agent`. Today: enrolment with the server. The collectors, the spool and
//! the daemon come with the agent issue.

mod register;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "pganalytics-agent", version, about = "pgAnalytics agent")]
struct Cli {
    /// Where the agent keeps its identity (key, certificate, CA) and state.
    #[arg(
        long,
        global = true,
        env = "PGANALYTICS_AGENT_STATE_DIR",
        default_value = "pganalytics-agent-state"
    )]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol with a server: make a key that never leaves this host, send a CSR with a
    /// registration token, and keep the certificate the server's CA issues.
    Register(register::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Register(args) => register::run(&cli.state_dir, args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pganalytics-agent: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
