//! The built-in rule pack: rule files in `domain/rules/`, embedded in the binary. The server
//! loads them on first start and adds rules new in an upgrade without touching edited ones.

use super::{FileError, Rule, parse_file};

/// Every built-in rule file, by name.
pub const FILES: &[(&str, &str)] = &[
    (
        "postgresql.toml",
        include_str!("../../rules/postgresql.toml"),
    ),
    ("host.toml", include_str!("../../rules/host.toml")),
    (
        "pganalytics.toml",
        include_str!("../../rules/pganalytics.toml"),
    ),
];

/// The built-in rules, in file order.
///
/// # Errors
/// A file that does not validate (a test keeps this from ever shipping).
pub fn rules() -> Result<Vec<Rule>, (&'static str, Vec<FileError>)> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        out.extend(parse_file(text).map_err(|e| (*name, e))?);
    }
    Ok(out)
}
