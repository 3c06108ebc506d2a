//! Label matchers, as in Prometheus and Alertmanager: `server=db1`, `datname!=postgres`,
//! `server=~prod-.*`, `collector!~test-.*`. Regular expressions are anchored at both ends.

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Matcher {
    label: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.op == other.op && self.value == other.value
    }
}

/// The longest regular expression a matcher may hold, compiled with a size limit too: a
/// matcher is evaluated for every alert on every cycle.
const MAX_PATTERN: usize = 1024;

impl Matcher {
    pub fn new(label: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        if !is_label_name(label) {
            return Err(format!(
                "{label:?} is not a label name (lower-case letters, digits and _)"
            ));
        }
        if value.chars().any(char::is_control) {
            return Err("a matcher value cannot hold control characters".into());
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                if value.len() > MAX_PATTERN {
                    return Err(format!("the pattern is longer than {MAX_PATTERN} bytes"));
                }
                let anchored = format!("^(?:{value})$");
                Some(
                    regex::RegexBuilder::new(&anchored)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| format!("{value:?} is not a regular expression: {e}"))?,
                )
            }
            _ => None,
        };
        Ok(Self {
            label: label.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// `label=value`, `label!=value`, `label=~regex`, `label!~regex`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cut = text.find(['=', '!']).ok_or_else(|| {
            format!("{text:?} is not a matcher; write e.g. server=db1 or server=~prod-.*")
        })?;
        let (label, rest) = text.split_at(cut);
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Equal, v)
        } else {
            return Err(format!(
                "{text:?} is not a matcher; the operators are = != =~ !~"
            ));
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Self::new(label.trim(), op, value)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether `value` (absent labels are the empty string, as in Prometheus) matches.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(r)) => r.is_match(v),
            (MatchOp::NotRegex, Some(r)) => !r.is_match(v),
            _ => false,
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_value(labels.get(&self.label).map(String::as_str))
    }
}

/// Whether every matcher matches (an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

pub fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.label, self.op.as_str(), self.value)
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn matchers_work_like_prometheus_ones() {
        let l = labels(&[("server", "prod-db1"), ("datname", "app")]);
        for (m, expected) in [
            ("server=prod-db1", true),
            ("server!=prod-db1", false),
            ("server=~prod-.*", true),
            ("server=~prod", false),
            ("server!~test-.*", true),
            ("datname=\"app\"", true),
            ("missing=", true),
            ("missing!=", false),
        ] {
            assert_eq!(Matcher::parse(m).unwrap().matches(&l), expected, "{m}");
        }
        for bad in ["server", "Server=x", "server=~(", "=x", "server==\u{1}"] {
            assert!(Matcher::parse(bad).is_err(), "{bad}");
        }
    }
}
