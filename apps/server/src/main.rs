use clap::Parser;
use pganalytics_server::cli::{self, Cli};
use pganalytics_server::logging;
use pganalytics_server::settings::Settings;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pganalytics-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let log = logging::logger(settings.log_format.as_deref());
    let result = actix_web::rt::System::new().block_on(cli::run(cli, settings, log.clone()));
    // Flush the async log drain before exiting.
    drop(log);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pganalytics-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
