//! Routes, one file per endpoint action, grouped by resource; [`table`] lists them all.

mod api_tokens;
mod audit_log;
mod auth;
mod collectors;
mod config;
mod docs;
mod health;
mod metrics;
mod registration_tokens;
mod selfmetrics;
mod servers;
pub mod table;
mod users;
