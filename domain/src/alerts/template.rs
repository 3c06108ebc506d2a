//! Summary and description templates: `{{ server }}`, `{{ datname }}`, `{{ value | bytes }}`.
//!
//! Only substitution of a label or the value with a fixed set of formats. A general template
//! engine was rejected on purpose: rule authors would get loops and conditionals evaluated
//! on every cycle for every alert, and a template is a sentence, not a program.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `1234.5` → `1234.5`, `0.123456` → `0.1235`.
    Number,
    /// `1536` → `1.5 KiB`.
    Bytes,
    /// `0.953` → `95.3%`.
    Percent,
    /// `5400` (seconds) → `1h30m`.
    Duration,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Name(String, Format),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What a template is filled from.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub value: f64,
    pub threshold: f64,
    pub severity: &'a str,
    pub rule: &'a str,
}

impl Template {
    /// # Errors
    /// An unclosed `{{`, an empty name or an unknown format.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > 4096 {
            return Err("at most 4096 bytes".into());
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in {text:?}"))?;
            let inner = after[..close].trim();
            let (name, format) = match inner.split_once('|') {
                Some((n, f)) => (n.trim(), parse_format(f.trim())?),
                None => (inner, Format::Number),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!(
                    "{{{{ {inner} }}}} does not name a label or the value"
                ));
            }
            pieces.push(Piece::Name(name.to_owned(), format));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    /// The names the template uses.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Name(n, _) => Some(n.as_str()),
            Piece::Text(_) => None,
        })
    }

    pub fn render(&self, v: &Values<'_>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Name(n, f) => {
                    let number = match n.as_str() {
                        "value" => Some(v.value),
                        "threshold" => Some(v.threshold),
                        _ => None,
                    };
                    match (number, n.as_str()) {
                        (Some(x), _) => out.push_str(&format_value(x, *f)),
                        (None, "severity") => out.push_str(v.severity),
                        (None, "rule") => out.push_str(v.rule),
                        (None, name) => {
                            let label = v.labels.get(name).map_or("", String::as_str);
                            match label.parse::<f64>() {
                                Ok(x) if *f != Format::Number => {
                                    out.push_str(&format_value(x, *f));
                                }
                                _ => out.push_str(label),
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn parse_format(f: &str) -> Result<Format, String> {
    match f {
        "number" => Ok(Format::Number),
        "bytes" => Ok(Format::Bytes),
        "percent" => Ok(Format::Percent),
        "duration" => Ok(Format::Duration),
        other => Err(format!(
            "unknown format {other:?}; the formats are number, bytes, percent, duration"
        )),
    }
}

pub fn format_value(x: f64, f: Format) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    match f {
        Format::Number => number(x),
        Format::Percent => format!("{}%", number(x * 100.0)),
        Format::Bytes => {
            let mut v = x;
            let mut unit = 0;
            const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
            while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
                v /= 1024.0;
                unit += 1;
            }
            format!("{} {}", number(v), UNITS[unit])
        }
        Format::Duration => {
            let secs = x.round() as i64;
            if secs.abs() < 60 {
                return format!("{}s", number(x));
            }
            let mut out = String::new();
            let mut rest = secs.abs();
            if secs < 0 {
                out.push('-');
            }
            let mut parts = 0;
            for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
                if rest >= size && parts < 2 {
                    let _ = write!(out, "{}{unit}", rest / size);
                    rest %= size;
                    parts += 1;
                }
            }
            out
        }
    }
}

/// Up to four significant decimals, no trailing zeros.
fn number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let digits = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 1.0 {
        2
    } else {
        4
    };
    let s = format!("{x:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_labels_and_format_the_value() {
        let labels: BTreeMap<String, String> = [("server".to_owned(), "db1".to_owned())]
            .into_iter()
            .collect();
        let t =
            Template::parse("{{ server }}: {{value|bytes}} free, {{ value | percent }}").unwrap();
        assert_eq!(t.names().collect::<Vec<_>>(), ["server", "value", "value"]);
        let v = Values {
            labels: &labels,
            value: 1536.0,
            threshold: 0.0,
            severity: "warning",
            rule: "r",
        };
        assert_eq!(t.render(&v), "db1: 1.5 KiB free, 153600%");
        assert_eq!(format_value(5400.0, Format::Duration), "1h30m");
        assert_eq!(format_value(0.9531, Format::Percent), "95.31%");
        assert_eq!(format_value(0.123456, Format::Number), "0.1235");
        for bad in ["{{ server", "{{ }}", "{{ value | hex }}", "{{ Server }}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
