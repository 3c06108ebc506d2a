//! The pgAnalytics server: an actix-web shell that wires adapters to use cases.
//! See the workspace README and `docs/` for how to run it.

pub mod app;
pub mod body;
pub mod cli;
pub mod demo;
pub mod error;
pub mod extract;
pub mod hygiene;
pub mod json;
pub mod logging;
pub mod openapi;
pub mod routes;
pub mod selfmetrics;
pub mod settings;
pub mod tls;

/// `60`, `60s`, `5m`, `2h`, `1d` → a duration.
pub fn parse_duration(v: &str) -> Option<time::Duration> {
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, "s"), |i| v.split_at(i));
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(time::Duration::seconds(secs))
}
