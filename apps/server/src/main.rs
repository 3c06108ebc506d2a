//! The server process: where its one clock and one id source are made and everything is
//! wired from its settings.

use clap::Parser;
use pganalytics_adapters::system::{OsRandom, SystemClock};
use pganalytics_server::cli::{self, Cli, Process};
use pganalytics_server::logging;
use pganalytics_server::settings::Settings;
use std::sync::Arc;

fn main() -> std::process::ExitCode {
    // `pganalytics-server agent …` is the agent's own command line: the demo runs its agent
    // from this executable. Not listed in --help: the agent has a binary of its own.
    let mut args = std::env::args_os();
    if std::env::args_os().nth(1).is_some_and(|a| a == "agent") {
        let _server = args.next();
        let _agent = args.next();
        return pganalytics_agent::main_with(
            std::iter::once("pganalytics-agent".into()).chain(args),
        );
    }
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pganalytics-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let (log, flush_on_exit) = logging::logger(settings.log_format.as_deref());
    let process = Process {
        clock: Arc::new(SystemClock),
        ids: Arc::new(OsRandom),
        log: log.clone(),
    };
    let result = actix_web::rt::System::new().block_on(cli::run(cli, settings, process));
    // Flush the async log drain before exiting.
    drop(log);
    drop(flush_on_exit);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pganalytics-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
