//! The pgAnalytics server: an actix-web shell that wires a backend's use cases to HTTP.
//! See the workspace README, `docs/architecture.md` for how the pieces fit, and
//! [`harness`] to run the real server in memory from a test or a tool.

pub mod app;
mod body;
pub mod cli;
mod console;
/// The console pages' HTML for a page model, without a request (benchmarks).
pub use console::render as console_render;
mod demo;
mod error;
mod extract;
pub mod harness;
mod json;
pub mod logging;
mod middleware;
pub mod openapi;
mod request;
pub mod routes;
mod rules_cli;
mod selfmetrics;
pub mod settings;
mod state;
mod tls;
