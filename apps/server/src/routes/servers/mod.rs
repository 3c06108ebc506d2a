pub mod fleet;
pub mod get;
pub mod list;
pub mod metrics;
