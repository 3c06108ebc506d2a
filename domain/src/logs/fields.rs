//! The typed fields of an event: what its kind's template says its values are.

use super::catalog::Redaction;
use super::kinds::{Field, RedactClass};
use crate::redact::redact_sql;

/// Kind-specific fields; columns of `pg_log_event` (empty where the kind has none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFields {
    pub duration_ms: Option<f64>,
    pub relation: Option<String>,
    pub lock_mode: Option<String>,
    pub lock_object: Option<String>,
    pub pids: Option<String>,
    pub signal: Option<f64>,
    pub target_pid: Option<f64>,
    pub statement: Option<String>,
    pub auth_method: Option<String>,
    pub slot: Option<String>,
    pub file: Option<String>,
    pub buffers: Option<f64>,
    pub write_ms: Option<f64>,
    pub sync_ms: Option<f64>,
    pub distance_kb: Option<f64>,
    pub pages_removed: Option<f64>,
    pub tuples_removed: Option<f64>,
    pub tuples_frozen: Option<f64>,
    pub wal_bytes: Option<f64>,
    pub io_read_ms: Option<f64>,
    pub io_write_ms: Option<f64>,
    pub temp_bytes: Option<f64>,
    pub query_id: Option<String>,
}

/// A number as the server printed it (a decimal comma in some languages).
fn number(value: &str) -> Option<f64> {
    let v = value.trim();
    v.parse::<f64>()
        .ok()
        .or_else(|| v.replace(',', ".").parse().ok())
}

/// The 24 hexadecimal digits of a WAL segment's name in a text (an archive command).
fn wal_segment(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let mut run = 0;
    for (i, c) in b.iter().enumerate() {
        if c.is_ascii_hexdigit() {
            run += 1;
            let ends = b.get(i + 1).is_none_or(|n| !n.is_ascii_hexdigit());
            if run >= 24 && ends {
                return Some(&text[i + 1 - run..=i]);
            }
        } else {
            run = 0;
        }
    }
    None
}

impl EventFields {
    pub fn set(&mut self, field: Field, value: &str, redaction: &Redaction) {
        let text = || Some(value.to_owned());
        match field {
            Field::Relation => {
                self.relation = Some(match self.relation.take() {
                    Some(mut r) => {
                        r.push('.');
                        r.push_str(value);
                        r
                    }
                    None => value.to_owned(),
                });
            }
            Field::LockMode => self.lock_mode = text(),
            Field::LockObject => self.lock_object = text(),
            Field::Pids => {
                let pids: Vec<&str> = value
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut all: Vec<String> = self
                    .pids
                    .as_deref()
                    .map(|p| p.split(',').map(str::to_owned).collect())
                    .unwrap_or_default();
                for p in pids {
                    if !all.iter().any(|a| a == p) {
                        all.push(p.to_owned());
                    }
                }
                self.pids = (!all.is_empty()).then(|| all.join(","));
            }
            Field::Signal => self.signal = number(value),
            Field::TargetPid => self.target_pid = number(value),
            Field::Statement => {
                self.statement = Some(if redaction.filters(RedactClass::StatementText) {
                    redact_sql(value)
                } else {
                    value.to_owned()
                });
            }
            Field::AuthMethod => {
                // A pg_hba.conf line ends with its method (and options after it).
                let method = value
                    .split_whitespace()
                    .rfind(|w| !w.contains('='))
                    .unwrap_or(value);
                self.auth_method = Some(method.to_owned());
            }
            Field::Slot => self.slot = text(),
            Field::File => {
                self.file = match wal_segment(value) {
                    Some(segment) => Some(segment.to_owned()),
                    None if value.contains(' ') => None, // a command, not a file
                    None => text(),
                };
            }
            Field::Buffers => self.buffers = number(value),
            Field::WriteSeconds => self.write_ms = number(value).map(|s| s * 1000.0),
            Field::SyncSeconds => self.sync_ms = number(value).map(|s| s * 1000.0),
            Field::DistanceKb => self.distance_kb = number(value),
            Field::PagesRemoved => self.pages_removed = number(value),
            Field::TuplesRemoved => self.tuples_removed = number(value),
            Field::TuplesFrozen => self.tuples_frozen = number(value),
            Field::WalBytes => self.wal_bytes = number(value),
            Field::IoReadMs => self.io_read_ms = number(value),
            Field::IoWriteMs => self.io_write_ms = number(value),
            Field::TempBytes => self.temp_bytes = number(value),
            Field::DurationMs => self.duration_ms = number(value),
            Field::DurationSeconds => self.duration_ms = number(value).map(|s| s * 1000.0),
        }
    }

    /// The query id a JSON plan carries (`"Query Identifier": 123`), or a text plan's
    /// `Query Identifier: 123` line (auto_explain with `log_verbose`).
    pub fn plan_query_id(&mut self, plan: &str) {
        let Some(at) = plan.find("Query Identifier") else {
            return;
        };
        let rest = &plan[at + "Query Identifier".len()..];
        let rest = rest.trim_start_matches(['"', ':', ' ']);
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        if end > 0 && self.query_id.is_none() {
            self.query_id = Some(rest[..end].to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_segment_is_found_in_an_archive_command() {
        assert_eq!(
            wal_segment("cp pg_wal/000000010000000000000003 /nope/000000010000000000000003"),
            Some("000000010000000000000003")
        );
        assert_eq!(wal_segment("false"), None);
    }

    #[test]
    fn numbers_read_with_a_decimal_comma() {
        assert_eq!(number("1000,123"), Some(1000.123));
        assert_eq!(number("12.5"), Some(12.5));
    }
}
