//! The agent's logs (see `pganalytics_adapters::logging`).

pub fn logger(format: Option<&str>) -> (slog::Logger, slog_async::AsyncGuard) {
    pganalytics_adapters::logging::logger("pganalytics-agent", format)
}
