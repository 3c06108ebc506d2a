//! `/api/v1/alert-rules`, `/api/v1/alerts`, silences, maintenance windows and notification
//! channels, with real receivers on loopback.

mod channels;
mod flow;
mod receiver;
mod receivers;
mod rules;
