//! PostgreSQL server logs: entries read back from the three formats PostgreSQL writes
//! (stderr with `log_line_prefix`, csvlog, jsonlog), multi-line entries stitched together,
//! and classified into the events the agent reports (`pg_log_event`).
//!
//! The parser is fed one line at a time (the tailer bounds each line's length) and keeps at
//! most one entry pending, itself bounded, so memory stays flat whatever the input. Statement
//! texts are redacted and `DETAIL`/`STATEMENT`/`CONTEXT` lines (which carry parameters and
//! statements) are not sent at all.

mod classify;
mod prefix;

pub use classify::{Category, classify};
pub use prefix::Prefix;

use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The longest message kept; longer ones are cut (at a character boundary).
pub const MAX_MESSAGE_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Stderr,
    Csv,
    Json,
}

impl LogFormat {
    /// `json`, `csv`, `stderr` as PostgreSQL's `log_destination` names them (without `log`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "stderr" => Some(Self::Stderr),
            "csv" | "csvlog" => Some(Self::Csv),
            "json" | "jsonlog" => Some(Self::Json),
            _ => None,
        }
    }

    /// The file name suffix the logging collector gives this format.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Stderr => ".log",
            Self::Csv => ".csv",
            Self::Json => ".json",
        }
    }
}

/// One event for `pg_log_event`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub time: Option<OffsetDateTime>,
    pub severity: String,
    pub category: Category,
    pub sqlstate: Option<String>,
    pub datname: Option<String>,
    pub username: Option<String>,
    pub application_name: Option<String>,
    pub pid: Option<i64>,
    pub duration_ms: Option<f64>,
    pub message: String,
}

/// The columns of [`LogEvent::row`], `time` first.
pub const EVENT_COLUMNS: &[&str] = &[
    "time",
    "severity",
    "category",
    "sqlstate",
    "datname",
    "username",
    "application_name",
    "pid",
    "duration_ms",
    "message",
    "kind",
];

impl LogEvent {
    /// A `pg_log_event` row; an event without a time of its own gets `fallback`.
    pub fn row(&self, fallback: OffsetDateTime) -> Vec<Value> {
        let time = self.time.unwrap_or(fallback);
        vec![
            json!(time.format(&Rfc3339).unwrap_or_default()),
            json!(self.severity),
            json!(self.category.as_str()),
            json!(self.sqlstate),
            json!(self.datname),
            json!(self.username),
            json!(self.application_name),
            json!(self.pid),
            json!(self.duration_ms),
            json!(self.message),
            json!(self.category.as_str()),
        ]
    }
}

/// An entry being read (its continuation lines may follow).
#[derive(Debug, Default)]
struct Entry {
    time: Option<OffsetDateTime>,
    pid: Option<i64>,
    severity: String,
    sqlstate: Option<String>,
    datname: Option<String>,
    username: Option<String>,
    application_name: Option<String>,
    message: String,
}

impl Entry {
    fn into_event(self) -> Option<LogEvent> {
        let (category, duration_ms, message) =
            classify(&self.severity, self.sqlstate.as_deref(), &self.message)?;
        Some(LogEvent {
            time: self.time,
            severity: self.severity,
            category,
            sqlstate: self.sqlstate,
            datname: self.datname,
            username: self.username,
            application_name: self.application_name,
            pid: self.pid,
            duration_ms,
            message: truncated(message, MAX_MESSAGE_BYTES),
        })
    }
}

fn truncated(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Lines that belong to the entry before them and carry statements or parameters.
const SECONDARY: &[&str] = &[
    "DETAIL",
    "HINT",
    "QUERY",
    "CONTEXT",
    "LOCATION",
    "STATEMENT",
];
pub const SEVERITIES: &[&str] = &[
    "DEBUG5", "DEBUG4", "DEBUG3", "DEBUG2", "DEBUG1", "DEBUG", "INFO", "NOTICE", "WARNING",
    "ERROR", "LOG", "FATAL", "PANIC",
];

/// Reads log lines of one format into events.
#[derive(Debug)]
pub struct LogParser {
    format: LogFormat,
    prefix: Prefix,
    pending: Option<Entry>,
    /// After a DETAIL/STATEMENT/… line, continuation lines belong to it and are dropped.
    in_secondary: bool,
    /// csvlog: a record whose quoted field spans lines.
    record: String,
    /// csvlog: whether `record` ends inside a quoted field (an odd number of quotes so
    /// far), kept line by line rather than recounted over the whole record.
    in_quotes: bool,
}

impl LogParser {
    /// `log_line_prefix` is used by the stderr format only.
    pub fn new(format: LogFormat, log_line_prefix: &str) -> Self {
        Self {
            format,
            prefix: Prefix::compile(log_line_prefix),
            pending: None,
            in_secondary: false,
            record: String::new(),
            in_quotes: false,
        }
    }

    /// Feeds one line (without its newline); returns the event it completed, if any.
    pub fn push(&mut self, line: &str) -> Option<LogEvent> {
        match self.format {
            LogFormat::Stderr => self.push_stderr(line),
            LogFormat::Csv => self.push_csv(line),
            LogFormat::Json => parse_json(line).and_then(Entry::into_event),
        }
    }

    /// Ends the pending entry: the file has no more lines for now, or it rotated.
    pub fn flush(&mut self) -> Option<LogEvent> {
        self.in_secondary = false;
        self.record.clear();
        self.in_quotes = false;
        self.pending.take().and_then(Entry::into_event)
    }

    fn push_stderr(&mut self, line: &str) -> Option<LogEvent> {
        let Some((fields, rest)) = self.prefix.parse(line) else {
            self.continuation(line);
            return None;
        };
        let Some((severity, message)) = rest.split_once(":  ") else {
            self.continuation(line);
            return None;
        };
        if SECONDARY.contains(&severity) {
            self.in_secondary = true;
            return None;
        }
        if !SEVERITIES.contains(&severity) {
            self.continuation(line);
            return None;
        }
        self.in_secondary = false;
        let entry = Entry {
            time: fields.time.and_then(parse_time),
            pid: fields.pid.and_then(|p| p.parse().ok()),
            severity: severity.to_owned(),
            sqlstate: fields.sqlstate.filter(|s| *s != "00000").map(str::to_owned),
            datname: fields.database.map(str::to_owned),
            username: fields.user.map(str::to_owned),
            application_name: fields.application.map(str::to_owned),
            message: truncated(message.to_owned(), MAX_MESSAGE_BYTES),
        };
        self.pending.replace(entry).and_then(Entry::into_event)
    }

    fn continuation(&mut self, line: &str) {
        if self.in_secondary {
            return;
        }
        if let Some(p) = self.pending.as_mut()
            && p.message.len() < MAX_MESSAGE_BYTES
        {
            p.message.push('\n');
            p.message.push_str(line);
            let message = std::mem::take(&mut p.message);
            p.message = truncated(message, MAX_MESSAGE_BYTES);
        }
    }

    fn push_csv(&mut self, line: &str) -> Option<LogEvent> {
        let odd_quotes = line.bytes().filter(|b| *b == b'"').count() % 2 == 1;
        // A record longer than any message we keep is cut; its closing quote still counts.
        if self.record.len() < 4 * MAX_MESSAGE_BYTES {
            if !self.record.is_empty() {
                self.record.push('\n');
            }
            self.record.push_str(line);
        } else if odd_quotes {
            self.record.push('"');
        }
        self.in_quotes ^= odd_quotes;
        if self.in_quotes {
            return None; // a quoted field goes on on the next line
        }
        let record = std::mem::take(&mut self.record);
        parse_csv(&record).and_then(Entry::into_event)
    }
}

/// csvlog columns (13–18): 0 log_time, 1 user_name, 2 database_name, 3 process_id,
/// 11 error_severity, 12 sql_state_code, 13 message, 22 application_name.
fn parse_csv(record: &str) -> Option<Entry> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(record.as_bytes());
    let row = reader.records().next()?.ok()?;
    let field = |i: usize| row.get(i).filter(|s| !s.is_empty()).map(str::to_owned);
    Some(Entry {
        time: row.get(0).and_then(parse_time),
        pid: row.get(3).and_then(|p| p.parse().ok()),
        severity: row.get(11)?.to_owned(),
        sqlstate: field(12).filter(|s| s != "00000"),
        datname: field(2),
        username: field(1),
        application_name: field(22),
        message: truncated(row.get(13)?.to_owned(), MAX_MESSAGE_BYTES),
    })
}

#[derive(Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dbname: Option<Cow<'a, str>>,
    pid: Option<i64>,
    #[serde(borrow)]
    error_severity: Cow<'a, str>,
    #[serde(borrow)]
    state_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(borrow)]
    application_name: Option<Cow<'a, str>>,
}

fn parse_json(line: &str) -> Option<Entry> {
    let j: JsonLine<'_> = serde_json::from_str(line).ok()?;
    let own = |v: Option<Cow<'_, str>>| v.filter(|s| !s.is_empty()).map(Cow::into_owned);
    Some(Entry {
        time: j.timestamp.as_deref().and_then(parse_time),
        pid: j.pid,
        severity: j.error_severity.into_owned(),
        sqlstate: own(j.state_code).filter(|s| s != "00000"),
        datname: own(j.dbname),
        username: own(j.user),
        application_name: own(j.application_name),
        message: truncated(j.message.into_owned(), MAX_MESSAGE_BYTES),
    })
}

/// `2026-11-21 07:00:00.123 UTC` (`%m`, csvlog, jsonlog), `… 07:00:00 UTC` (`%t`) or a Unix
/// epoch (`%n`). Zones other than UTC/GMT or a numeric offset are ambiguous as
/// abbreviations (`CST`): such times are left out and the agent's read time is used; set
/// `log_timezone = 'UTC'` for exact times.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    if let Ok(epoch) = s.parse::<f64>() {
        let nanos = (epoch * 1e9) as i128;
        return OffsetDateTime::from_unix_timestamp_nanos(nanos).ok();
    }
    let (datetime, zone) = s.rsplit_once(' ')?;
    let offset = match zone {
        "UTC" | "GMT" | "Z" => time::UtcOffset::UTC,
        z if z.starts_with(['+', '-']) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits = &z[1..];
            let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
            time::UtcOffset::from_hms(
                sign * h.parse::<i8>().ok()?,
                sign * m.parse::<i8>().ok()?,
                0,
            )
            .ok()?
        }
        _ => return None,
    };
    let with_fraction =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = PrimitiveDateTime::parse(datetime, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(datetime, whole))
        .ok()?;
    Some(t.assume_offset(offset))
}

#[cfg(test)]
mod tests;
