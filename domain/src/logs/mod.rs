//! PostgreSQL server logs: entries read back from the three formats PostgreSQL writes
//! (stderr with `log_line_prefix`, csvlog, jsonlog), multi-line entries stitched together,
//! and classified into the events the agent reports (`pg_log_event`).
//!
//! Classification is by PostgreSQL's own message templates (see [`kinds`] and
//! [`Classifier`]), in the server's language; values are taken out of messages where
//! the template says they are, under the redaction classes the agent is configured with.
//!
//! The parser is fed one line at a time (the tailer bounds each line's length) and keeps at
//! most one entry pending, itself bounded, so memory stays flat whatever the input.
//! `DETAIL` lines are read for the fields of the kinds that have them (a deadlock's
//! processes, a crashed statement); they, and `STATEMENT`/`CONTEXT`/`QUERY` lines, are
//! never sent.

mod catalog;
mod fields;
pub mod kinds;
mod latency;
mod pgbouncer;
mod plan;
mod prefix;
mod syslog;
mod template;

pub use catalog::{Classified, Classifier, English, Redaction, Translations, normalize};
pub use fields::EventFields;
pub use kinds::{Category, KINDS, RedactClass};
pub use latency::{Histogram, LATENCY_COLUMNS, LatencyWindow};
pub use plan::redact_plan;
pub use prefix::Prefix;
pub use template::Template;

use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The longest message kept; longer ones are cut (at a character boundary).
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most `DETAIL` lines kept per entry for its fields.
const MAX_DETAILS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Stderr,
    Csv,
    Json,
    /// The lines rsyslog (or another syslog daemon) writes for PostgreSQL's `syslog`
    /// destination: a syslog header, `[sequence-chunk]`, then a stderr-style line.
    Syslog,
    /// PgBouncer's log.
    Pgbouncer,
}

impl LogFormat {
    /// `json`, `csv`, `stderr` as PostgreSQL's `log_destination` names them (without `log`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "stderr" => Some(Self::Stderr),
            "csv" | "csvlog" => Some(Self::Csv),
            "json" | "jsonlog" => Some(Self::Json),
            "syslog" => Some(Self::Syslog),
            "pgbouncer" => Some(Self::Pgbouncer),
            _ => None,
        }
    }

    /// The file name suffix the logging collector gives this format.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Stderr => ".log",
            Self::Csv => ".csv",
            Self::Json => ".json",
            Self::Syslog | Self::Pgbouncer => ".log",
        }
    }
}

/// One event for `pg_log_event`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub time: Option<OffsetDateTime>,
    /// In English whatever the server's language.
    pub severity: String,
    pub category: Category,
    pub kind: &'static str,
    pub template: String,
    pub sqlstate: Option<String>,
    pub datname: Option<String>,
    pub username: Option<String>,
    pub application_name: Option<String>,
    pub pid: Option<i64>,
    pub message: String,
    pub fields: EventFields,
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
    "template",
    "query_id",
    "relation",
    "lock_mode",
    "lock_object",
    "pids",
    "signal",
    "target_pid",
    "statement",
    "auth_method",
    "slot",
    "file",
    "buffers",
    "write_ms",
    "sync_ms",
    "distance_kb",
    "pages_removed",
    "tuples_removed",
    "tuples_frozen",
    "wal_bytes",
    "io_read_ms",
    "io_write_ms",
    "temp_bytes",
];

/// The kind-specific columns (after `template`), as the log-event API shows them.
pub const FIELD_COLUMNS: &[&str] = EVENT_COLUMNS.split_at(12).1;

impl LogEvent {
    /// The event's duration in milliseconds, where its kind has one.
    pub fn duration_ms(&self) -> Option<f64> {
        self.fields.duration_ms
    }

    /// A `pg_log_event` row; an event without a time of its own gets `fallback`.
    pub fn row(&self, fallback: OffsetDateTime) -> Vec<Value> {
        let time = self.time.unwrap_or(fallback);
        let f = &self.fields;
        vec![
            json!(time.format(&Rfc3339).unwrap_or_default()),
            json!(self.severity),
            json!(self.category.as_str()),
            json!(self.sqlstate),
            json!(self.datname),
            json!(self.username),
            json!(self.application_name),
            json!(self.pid),
            json!(f.duration_ms),
            json!(self.message),
            json!(self.kind),
            json!(self.template),
            json!(f.query_id),
            json!(f.relation),
            json!(f.lock_mode),
            json!(f.lock_object),
            json!(f.pids),
            json!(f.signal),
            json!(f.target_pid),
            json!(f.statement),
            json!(f.auth_method),
            json!(f.slot),
            json!(f.file),
            json!(f.buffers),
            json!(f.write_ms),
            json!(f.sync_ms),
            json!(f.distance_kb),
            json!(f.pages_removed),
            json!(f.tuples_removed),
            json!(f.tuples_frozen),
            json!(f.wal_bytes),
            json!(f.io_read_ms),
            json!(f.io_write_ms),
            json!(f.temp_bytes),
        ]
    }
}

/// An entry being read (its continuation lines may follow).
#[derive(Debug, Default)]
struct Entry {
    time: Option<OffsetDateTime>,
    pid: Option<i64>,
    /// In English.
    severity: String,
    sqlstate: Option<String>,
    datname: Option<String>,
    username: Option<String>,
    application_name: Option<String>,
    query_id: Option<String>,
    message: String,
    details: Vec<String>,
}

impl Entry {
    fn into_event(self, classifier: &Classifier) -> Option<LogEvent> {
        let c = classifier.classify(
            &self.severity,
            self.sqlstate.as_deref(),
            &self.message,
            &self.details,
        )?;
        let mut fields = c.fields;
        if fields.query_id.is_none() {
            fields.query_id = self.query_id.filter(|q| q != "0");
        }
        Some(LogEvent {
            time: self.time,
            severity: self.severity,
            category: c.category,
            kind: c.kind,
            template: c.template,
            sqlstate: self.sqlstate,
            datname: self.datname,
            username: self.username,
            application_name: self.application_name,
            pid: self.pid,
            message: truncated(c.message, MAX_MESSAGE_BYTES),
            fields,
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

pub const SEVERITIES: &[&str] = &[
    "DEBUG5", "DEBUG4", "DEBUG3", "DEBUG2", "DEBUG1", "DEBUG", "INFO", "NOTICE", "WARNING",
    "ERROR", "LOG", "FATAL", "PANIC",
];

/// Zone abbreviations a server writes in its log times (`CET`, `MSK`), with their offsets:
/// those of the server's `log_timezone`, read from the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zones(HashMap<String, UtcOffset>);

impl Zones {
    pub fn new(abbreviations: impl IntoIterator<Item = (String, i32)>) -> Self {
        Self(
            abbreviations
                .into_iter()
                .filter_map(|(a, secs)| Some((a, UtcOffset::from_whole_seconds(secs).ok()?)))
                .collect(),
        )
    }

    fn offset(&self, zone: &str) -> Option<UtcOffset> {
        self.0.get(zone).copied()
    }
}

/// Reads log lines of one format into events.
#[derive(Debug)]
pub struct LogParser {
    format: LogFormat,
    prefix: Prefix,
    classifier: Arc<Classifier>,
    zones: Zones,
    pending: Option<Entry>,
    /// After a DETAIL line, its continuation lines belong to it; after other secondary
    /// lines (statements, parameters), they are dropped.
    in_secondary: Option<&'static str>,
    /// csvlog: a record whose quoted field spans lines.
    record: String,
    /// csvlog: whether `record` ends inside a quoted field (an odd number of quotes so
    /// far), kept line by line rather than recounted over the whole record.
    in_quotes: bool,
    /// Events completed and not yet returned: a line that shows the record before it was
    /// cut completes two.
    ready: VecDeque<LogEvent>,
    /// syslog: the sequence number of the pending entry and the length of its last chunk.
    syslog: Option<(u64, usize)>,
}

impl LogParser {
    /// An English server's log; `log_line_prefix` is used by the stderr format only.
    pub fn new(format: LogFormat, log_line_prefix: &str) -> Self {
        Self::with(
            format,
            log_line_prefix,
            Arc::new(Classifier::default()),
            Zones::default(),
        )
    }

    /// A log classified by `classifier` (the server's language and the agent's redaction),
    /// its zone abbreviations resolved through `zones`.
    pub fn with(
        format: LogFormat,
        log_line_prefix: &str,
        classifier: Arc<Classifier>,
        zones: Zones,
    ) -> Self {
        Self {
            format,
            prefix: Prefix::compile(log_line_prefix),
            classifier,
            zones,
            pending: None,
            in_secondary: None,
            record: String::new(),
            in_quotes: false,
            ready: VecDeque::new(),
            syslog: None,
        }
    }

    /// Feeds one line (without its newline); returns the event it completed, if any.
    pub fn push(&mut self, line: &str) -> Option<LogEvent> {
        if let Some(e) = self.push_line(line) {
            self.ready.push_back(e);
        }
        self.ready.pop_front()
    }

    fn push_line(&mut self, line: &str) -> Option<LogEvent> {
        match self.format {
            LogFormat::Stderr => self.push_stderr(line),
            LogFormat::Csv => self.push_csv(line),
            LogFormat::Syslog => self.push_syslog(line),
            LogFormat::Pgbouncer => self.push_pgbouncer(line),
            LogFormat::Json => {
                let entry = parse_json(line, &self.classifier, &self.zones)?;
                entry.into_event(&self.classifier)
            }
        }
    }

    /// Ends the pending entry: the file has no more lines for now, or it rotated.
    pub fn flush(&mut self) -> Vec<LogEvent> {
        self.in_secondary = None;
        self.in_quotes = false;
        let mut out: Vec<LogEvent> = self.ready.drain(..).collect();
        if !self.record.is_empty() {
            // A csvlog record cut short (the line limit, or a crash mid-write).
            let record = std::mem::take(&mut self.record);
            out.extend(self.csv_record(&record));
        }
        out.extend(
            self.pending
                .take()
                .and_then(|e| e.into_event(&self.classifier)),
        );
        out
    }

    fn push_stderr(&mut self, line: &str) -> Option<LogEvent> {
        let Some((fields, rest)) = self.prefix.parse(line) else {
            self.continuation(line);
            return None;
        };
        let Some((word, message)) = split_severity(rest) else {
            self.continuation(line);
            return None;
        };
        if let Some(label) = self.classifier.secondary(word) {
            self.in_secondary = Some(label);
            if label == "DETAIL"
                && let Some(p) = self.pending.as_mut()
                && p.details.len() < MAX_DETAILS
            {
                p.details
                    .push(truncated(message.to_owned(), MAX_MESSAGE_BYTES));
            }
            return None;
        }
        let Some(severity) = self.classifier.severity(word) else {
            self.continuation(line);
            return None;
        };
        self.in_secondary = None;
        let entry = Entry {
            time: fields.time.and_then(|t| parse_time_in(t, &self.zones)),
            pid: fields.pid.and_then(|p| p.parse().ok()),
            severity: severity.to_owned(),
            sqlstate: fields.sqlstate.filter(|s| *s != "00000").map(str::to_owned),
            datname: fields.database.map(str::to_owned),
            username: fields.user.map(str::to_owned),
            application_name: fields.application.map(str::to_owned),
            query_id: fields.query_id.map(str::to_owned),
            message: truncated(message.to_owned(), MAX_MESSAGE_BYTES),
            details: Vec::new(),
        };
        self.pending
            .replace(entry)
            .and_then(|e| e.into_event(&self.classifier))
    }

    fn continuation(&mut self, line: &str) {
        // The server puts a tab before each further line of a message.
        self.append(line.strip_prefix('\t').unwrap_or(line), "\n");
    }

    /// Adds `text` to the pending entry's message (or to its DETAIL line), after
    /// `separator`; bounded. Text of other secondary lines is dropped.
    fn append(&mut self, text: &str, separator: &str) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let target = match self.in_secondary {
            None => &mut p.message,
            Some("DETAIL") => match p.details.last_mut() {
                Some(d) => d,
                None => return,
            },
            Some(_) => return,
        };
        if target.len() < MAX_MESSAGE_BYTES {
            target.push_str(separator);
            target.push_str(text);
            let joined = std::mem::take(target);
            *target = truncated(joined, MAX_MESSAGE_BYTES);
        }
    }

    fn push_csv(&mut self, line: &str) -> Option<LogEvent> {
        // A line that starts a new record while the last one is still open: the last one
        // was cut (at the tailer's line limit) and is read as far as it goes.
        let mut cut = None;
        if self.in_quotes && starts_csv_record(line) {
            let record = std::mem::take(&mut self.record);
            self.in_quotes = false;
            cut = self.csv_record(&record);
        }
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
            return cut; // a quoted field goes on on the next line
        }
        let record = std::mem::take(&mut self.record);
        let this = self.csv_record(&record);
        match cut {
            // Two events from one line: the cut one first.
            Some(c) => {
                self.ready.push_back(c);
                this
            }
            None => this,
        }
    }

    /// `<header> postgres[pid]: [seq-chunk] <stderr line>`: chunk 1 starts an entry, the
    /// next chunks of the same sequence number continue it (a new line, or the rest of a
    /// line the server cut at 900 bytes).
    fn push_syslog(&mut self, line: &str) -> Option<LogEvent> {
        let s = syslog::parse(line)?;
        let body = syslog::unescape(s.body);
        match s.sequence {
            Some((seq, chunk)) if chunk > 1 => {
                let (pending, last_len) = self.syslog?;
                if pending != seq {
                    return None;
                }
                self.syslog = Some((seq, body.len()));
                if last_len < syslog::CUT_AT {
                    // A line of its own: the message's next line, or a DETAIL line.
                    return self.push_stderr(&body);
                }
                // The server cut one long line: no line break between the chunks.
                self.append(&body, "");
                None
            }
            sequence => {
                let completed = self.push_stderr(&body);
                if let Some(p) = self.pending.as_mut() {
                    if p.pid.is_none() {
                        p.pid = s.pid;
                    }
                    if p.time.is_none() {
                        p.time = s.time;
                    }
                }
                self.syslog = sequence.map(|(seq, _)| (seq, body.len()));
                completed
            }
        }
    }

    /// `TIME [PID] LEVEL message`, where a client's or server's connection precedes the
    /// message: `C-0x55d…: db/user@10.0.0.5:51234 login attempt: …`.
    fn push_pgbouncer(&mut self, line: &str) -> Option<LogEvent> {
        let entry = pgbouncer::parse(line, &self.zones)?;
        entry.into_event(&self.classifier)
    }

    fn csv_record(&self, record: &str) -> Option<LogEvent> {
        parse_csv(record, &self.classifier, &self.zones)
            .and_then(|e| e.into_event(&self.classifier))
    }
}
/// Whether a csvlog line starts a record: `YYYY-MM-DD HH:MM:SS` then a comma or zone.
fn starts_csv_record(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
}

/// `WORD:  message` for a severity or a secondary line's label in any language: a word
/// without lower-case letters (`LOG`, `FEHLER`, `DÉTAIL`; French puts a space before the
/// colon, `CONTEXTE :  `).
fn split_severity(rest: &str) -> Option<(&str, &str)> {
    let (word, message) = rest.split_once(":  ")?;
    let word = word.trim_end();
    let plausible = !word.is_empty()
        && word.chars().count() <= 24
        && !word.starts_with(' ')
        && word
            .chars()
            .all(|c| !c.is_lowercase() && !matches!(c, '[' | ']' | '@' | ':'));
    plausible.then_some((word, message))
}

/// csvlog columns (13–18): 0 log_time, 1 user_name, 2 database_name, 3 process_id,
/// 11 error_severity, 12 sql_state_code, 13 message, 14 detail, 22 application_name,
/// 24 query_id (14+).
fn parse_csv(record: &str, classifier: &Classifier, zones: &Zones) -> Option<Entry> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(record.as_bytes());
    let row = match reader.records().next()? {
        Ok(row) => row,
        // A record cut inside a quoted field: close it and read what there is.
        Err(_) => {
            let closed = format!("{record}\"");
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(closed.as_bytes());
            reader.records().next()?.ok()?
        }
    };
    let field = |i: usize| row.get(i).filter(|s| !s.is_empty()).map(str::to_owned);
    Some(Entry {
        time: row.get(0).and_then(|t| parse_time_in(t, zones)),
        pid: row.get(3).and_then(|p| p.parse().ok()),
        severity: classifier.severity(row.get(11)?)?.to_owned(),
        sqlstate: field(12).filter(|s| s != "00000"),
        datname: field(2),
        username: field(1),
        application_name: field(22),
        query_id: field(24),
        message: truncated(row.get(13)?.to_owned(), MAX_MESSAGE_BYTES),
        details: field(14)
            .map(|d| vec![truncated(d, MAX_MESSAGE_BYTES)])
            .unwrap_or_default(),
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
    detail_log: Option<Cow<'a, str>>,
    #[serde(borrow)]
    detail: Option<Cow<'a, str>>,
    #[serde(borrow)]
    application_name: Option<Cow<'a, str>>,
    query_id: Option<i64>,
}

fn parse_json(line: &str, classifier: &Classifier, zones: &Zones) -> Option<Entry> {
    match serde_json::from_str::<JsonLine<'_>>(line) {
        Ok(j) => json_entry(j, classifier, zones),
        // A record cut at the line limit: closed where it was cut (inside a string, or
        // after its last whole field) and read as far as it goes.
        Err(_) if line.starts_with('{') => {
            let closed = format!("{line}\"}}");
            if let Ok(j) = serde_json::from_str::<JsonLine<'_>>(&closed) {
                return json_entry(j, classifier, zones);
            }
            let whole = &line[..line.rfind(",\"")?];
            let closed = format!("{whole}}}");
            json_entry(serde_json::from_str(&closed).ok()?, classifier, zones)
        }
        Err(_) => None,
    }
}

fn json_entry(j: JsonLine<'_>, classifier: &Classifier, zones: &Zones) -> Option<Entry> {
    let own = |v: Option<Cow<'_, str>>| v.filter(|s| !s.is_empty()).map(Cow::into_owned);
    Some(Entry {
        time: j.timestamp.as_deref().and_then(|t| parse_time_in(t, zones)),
        pid: j.pid,
        severity: classifier.severity(&j.error_severity)?.to_owned(),
        sqlstate: own(j.state_code).filter(|s| s != "00000"),
        datname: own(j.dbname),
        username: own(j.user),
        application_name: own(j.application_name),
        query_id: j.query_id.filter(|q| *q != 0).map(|q| q.to_string()),
        message: truncated(j.message.into_owned(), MAX_MESSAGE_BYTES),
        details: own(j.detail_log)
            .or_else(|| own(j.detail))
            .map(|d| vec![truncated(d, MAX_MESSAGE_BYTES)])
            .unwrap_or_default(),
    })
}

/// `2026-11-21 07:00:00.123 UTC` (`%m`, csvlog, jsonlog), `… 07:00:00 UTC` (`%t`) or a Unix
/// epoch (`%n`), with UTC, GMT or a numeric offset. Other zone abbreviations are read by
/// [`parse_time_in`] with the server's own.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    parse_time_in(s, &Zones::default())
}

/// [`parse_time`] with the zone abbreviations of the server's `log_timezone`.
pub fn parse_time_in(s: &str, zones: &Zones) -> Option<OffsetDateTime> {
    if let Ok(epoch) = s.parse::<f64>() {
        let nanos = (epoch * 1e9) as i128;
        return OffsetDateTime::from_unix_timestamp_nanos(nanos).ok();
    }
    let (datetime, zone) = s.rsplit_once(' ')?;
    let offset = match zone {
        "UTC" | "GMT" | "Z" => UtcOffset::UTC,
        z if z.starts_with(['+', '-']) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits = &z[1..];
            let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
            UtcOffset::from_hms(
                sign * h.parse::<i8>().ok()?,
                sign * m.parse::<i8>().ok()?,
                0,
            )
            .ok()?
        }
        z => zones.offset(z)?,
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
