//! Structured logs with slog, the same for every binary: JSON for machines, text on a
//! terminal, through an async drain.

use slog::{Drain, Logger, o};
use std::io::IsTerminal;

/// The root logger of `service`, and the guard that flushes it: keep the guard until the
/// process ends, or the last lines are lost with the drain's thread. `format` is `json` or
/// `text`; by default text on a terminal, JSON otherwise.
pub fn logger(service: &'static str, format: Option<&str>) -> (Logger, slog_async::AsyncGuard) {
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let (drain, guard) = if json {
        let d = slog_json::Json::new(std::io::stderr())
            .add_default_keys()
            .build()
            .fuse();
        slog_async::Async::new(d).chan_size(4096).build_with_guard()
    } else {
        let d = slog_term::FullFormat::new(slog_term::TermDecorator::new().stderr().build())
            .build()
            .fuse();
        slog_async::Async::new(d).chan_size(4096).build_with_guard()
    };
    let log = Logger::root(
        drain.fuse(),
        o!("service" => service, "version" => env!("CARGO_PKG_VERSION")),
    );
    (log, guard)
}
