//! `/api/v1/alert-rules`, `/api/v1/alerts`, silences, maintenance windows and notification
//! channels, with real receivers on loopback.

pub mod channels;
mod flow;
pub mod leader;
mod receiver;
mod receivers;
mod rules;
