//! Structured logs with slog: JSON for machines, text on a terminal.

use slog::{Drain, Logger, o};
use std::io::IsTerminal;

pub fn logger(format: Option<&str>) -> Logger {
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let drain = if json {
        let d = slog_json::Json::new(std::io::stderr())
            .add_default_keys()
            .build()
            .fuse();
        slog_async::Async::new(d).chan_size(4096).build().fuse()
    } else {
        let d = slog_term::FullFormat::new(slog_term::TermDecorator::new().stderr().build())
            .build()
            .fuse();
        slog_async::Async::new(d).chan_size(4096).build().fuse()
    };
    Logger::root(
        drain,
        o!("service" => "pganalytics-server", "version" => env!("CARGO_PKG_VERSION")),
    )
}

/// A logger that drops everything, for tests that do not read logs.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}
