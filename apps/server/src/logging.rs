//! The server's logs (see `pganalytics_adapters::logging`).

use slog::{Logger, o};

/// The server's root logger and the guard that flushes it when dropped.
pub fn logger(format: Option<&str>) -> (Logger, slog_async::AsyncGuard) {
    pganalytics_adapters::logging::logger("pganalytics-server", format)
}

/// A logger that drops everything, for tests that do not read logs.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}
