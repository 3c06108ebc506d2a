//! Structured logs with slog: JSON for machines, text on a terminal.

use slog::{Drain, Logger, o};
use std::io::IsTerminal;

/// The logger and the guard that flushes it: keep the guard until the process ends, or the
/// last lines (such as "stopping") are lost with the async drain's thread.
pub fn logger(format: Option<&str>) -> (Logger, slog_async::AsyncGuard) {
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
        slog_async::Async::new(d).chan_size(1024).build_with_guard()
    } else {
        let d = slog_term::FullFormat::new(slog_term::TermDecorator::new().stderr().build())
            .build()
            .fuse();
        slog_async::Async::new(d).chan_size(1024).build_with_guard()
    };
    let (drain, guard) = drain;
    let log = Logger::root(
        drain.fuse(),
        o!("service" => "pganalytics-agent", "version" => env!("CARGO_PKG_VERSION")),
    );
    (log, guard)
}
