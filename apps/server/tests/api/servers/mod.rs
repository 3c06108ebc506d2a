mod fleet;
mod metrics;
