//! People and access (issue 4): sessions, permissions, API tokens, audit, hygiene; hostile
//! input (issue 11).

mod audit;
mod hygiene;
mod inputs;
pub mod permissions;
mod selfmetrics;
mod sessions;
