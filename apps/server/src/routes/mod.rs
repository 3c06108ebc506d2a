//! Routes, one file per endpoint action, grouped by resource; [`table`] lists them all.

mod alert_rules;
pub(crate) mod alerts;
mod api_tokens;
mod audit_log;
mod auth;
mod collectors;
mod config;
mod docs;
mod health;
mod log_events;
mod maintenance_windows;
mod metrics;
mod notification_channels;
mod registration_tokens;
mod retention;
mod selfmetrics;
mod servers;
mod silences;
pub(crate) mod statements;
pub mod table;
mod users;
