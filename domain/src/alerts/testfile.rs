//! Rule test files, in the manner of `promtool test rules`: series of readings, and the
//! alerts expected at given times. `pganalytics-server rules test FILE` runs them against
//! the rule files they name, so people can keep their own rules under CI.
//!
//! ```toml
//! rule_files = ["my-rules.toml"]   # relative to this file
//! evaluation_interval = "1m"
//!
//! [[test]]
//! name = "a session idle in transaction pages after its `for`"
//! interval = "1m"                  # between the readings of every series
//!
//! [[test.series]]
//! family = "pg_activity"
//! server = "db1"                   # default: main
//! labels = { datname = "app", state = "idle in transaction" }
//! values = { longest_idle_in_xact_seconds = "10 10 400x10" }
//!
//! [[test.alert]]
//! at = "8m"
//! rule = "pg_idle_in_transaction"
//! state = "firing"                 # firing, pending or none
//! severity = "warning"
//! labels = { datname = "app", server = "db1" }
//! ```
//!
//! Values use promtool's expanding notation: `a`, `a+bxN` (N more readings, each `b`
//! more), `axN` (N more of `a`), `_` (no reading) and `_xN`.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::span::Span;

fn default_interval() -> Span {
    Span::seconds(60)
}
fn default_server() -> String {
    "main".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub rule_files: Vec<String>,
    #[serde(default = "default_interval")]
    pub evaluation_interval: Span,
    #[serde(rename = "test")]
    pub tests: Vec<RuleTest>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval: Span,
    #[serde(default)]
    pub series: Vec<Series>,
    #[serde(default, rename = "alert")]
    pub alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub family: String,
    #[serde(default = "default_server")]
    pub server: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Column → readings in expanding notation.
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedState {
    Firing,
    Pending,
    /// No pending or firing alert of the rule matches.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    pub at: Span,
    pub rule: String,
    pub state: ExpectedState,
    #[serde(default)]
    pub severity: Option<super::Severity>,
    /// Labels the alert must have (a subset).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Expands `"1 2 3+2x2 _ 7x1"` into readings: `[1, 2, 3, 5, 7, None, 7, 7]`.
///
/// # Errors
/// A token that is not a number, `_`, or an expansion.
pub fn expand(values: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for token in values.split_whitespace() {
        let (base, times) = match token.split_once('x') {
            Some((b, n)) => (
                b,
                Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("{token:?}: the count after x is not a number"))?,
                ),
            ),
            None => (token, None),
        };
        if base == "_" {
            out.extend(std::iter::repeat_n(None, 1 + times.unwrap_or(0)));
            continue;
        }
        // `a+b` or `a-b` (a step), not the sign of `a` or an exponent.
        let split = base
            .char_indices()
            .skip(1)
            .find(|(i, c)| (*c == '+' || *c == '-') && !base[..*i].ends_with(['e', 'E']))
            .map(|(i, _)| i);
        let (start, step) = match split {
            Some(i) => (&base[..i], Some(&base[i..])),
            None => (base, None),
        };
        let start: f64 = start
            .parse()
            .map_err(|_| format!("{token:?} is not a reading (a number, _, a+bxN or axN)"))?;
        let step: f64 = match step {
            Some(s) => s
                .trim_start_matches('+')
                .parse()
                .map_err(|_| format!("{token:?}: the step is not a number"))?,
            None => 0.0,
        };
        if times.is_some_and(|n| n > 100_000) {
            return Err(format!("{token:?}: at most 100000 readings"));
        }
        for i in 0..=times.unwrap_or(0) {
            out.push(Some(start + step * i as f64));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_expand_as_in_promtool() {
        assert_eq!(
            expand("1 2 3+2x2 _ 7x1 -1 1e3 5-1x2 _x1").unwrap(),
            vec![
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(5.0),
                Some(7.0),
                None,
                Some(7.0),
                Some(7.0),
                Some(-1.0),
                Some(1000.0),
                Some(5.0),
                Some(4.0),
                Some(3.0),
                None,
                None
            ]
        );
        for bad in ["a", "1xz", "1+x2", "1x1000001"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }
}
