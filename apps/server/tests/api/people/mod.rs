//! People and access (issue 4): sessions, permissions, API tokens, audit, hygiene.

mod audit;
mod hygiene;
mod permissions;
mod selfmetrics;
mod sessions;
