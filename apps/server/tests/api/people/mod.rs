//! People and access (issue 4): sessions, permissions, API tokens, audit, hygiene; hostile
//! input (issue 11).

mod audit;
mod hygiene;
mod inputs;
mod permissions;
mod selfmetrics;
mod sessions;
