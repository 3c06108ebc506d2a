//! Durations as people write them in rule files and settings: `90`, `30s`, `5m`, `1h30m`,
//! `2d`, `1w`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::Duration;

/// A whole number of seconds, written and read as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(i64);

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn seconds(s: i64) -> Self {
        Self(if s < 0 { 0 } else { s })
    }
    pub fn minutes(m: i64) -> Self {
        Self::seconds(m.saturating_mul(60))
    }
    pub fn as_seconds(self) -> i64 {
        self.0
    }
    pub fn duration(self) -> Duration {
        Duration::seconds(self.0)
    }

    /// `90` (seconds), or numbers each followed by a unit `s`, `m`, `h`, `d`, `w`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().ok().map(Self);
        }
        let mut total: i64 = 0;
        let mut number = String::new();
        for ch in t.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return None,
            };
            let n: i64 = number.parse().ok()?;
            number.clear();
            total = total.checked_add(n.checked_mul(unit)?)?;
        }
        // A trailing number without a unit ("1h30") is ambiguous.
        number.is_empty().then_some(Self(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Seconds(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Seconds(s) if s >= 0 => Ok(Self(s)),
            Either::Seconds(s) => Err(serde::de::Error::custom(format!(
                "a duration cannot be negative ({s})"
            ))),
            Either::Text(t) => Self::parse(&t).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{t:?} is not a duration; write e.g. 30s, 5m, 1h30m, 2d"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_the_way_people_write_them() {
        for (text, secs, shown) in [
            ("90", 90, "1m30s"),
            ("30s", 30, "30s"),
            ("5m", 300, "5m"),
            ("1h30m", 5400, "1h30m"),
            ("2d", 172_800, "2d"),
            ("1w", 604_800, "7d"),
            ("0", 0, "0s"),
        ] {
            let s = Span::parse(text).unwrap();
            assert_eq!(s.as_seconds(), secs, "{text}");
            assert_eq!(s.to_string(), shown);
            assert_eq!(Span::parse(shown), Some(s));
        }
        for bad in [
            "",
            "5 minutes",
            "1h30",
            "-5m",
            "m",
            "99999999999999999999s",
            "5M",
        ] {
            assert_eq!(Span::parse(bad), None, "{bad}");
        }
    }
}
