//! What every request goes through, outermost first: the access log, hygiene (request id,
//! rate limits, security headers), then authorization against the route table.

pub mod access_log;
pub mod authorize;
pub mod hygiene;
pub mod ratelimit;
