//! What a log entry is about, and the figures in it.

use crate::redact::redact_sql;

/// What an event is about. Sent as both `category` and `kind` of `pg_log_event`: today each
/// category is its own single kind (finer kinds within categories come with the message
/// catalog classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Error,
    Fatal,
    Panic,
    Warning,
    Checkpoint,
    Autovacuum,
    Autoanalyze,
    SlowStatement,
    LockWait,
    Deadlock,
    TempFile,
    Connection,
    AuthenticationFailure,
    Replication,
}

impl Category {
    pub const ALL: [Category; 14] = [
        Self::Error,
        Self::Fatal,
        Self::Panic,
        Self::Warning,
        Self::Checkpoint,
        Self::Autovacuum,
        Self::Autoanalyze,
        Self::SlowStatement,
        Self::LockWait,
        Self::Deadlock,
        Self::TempFile,
        Self::Connection,
        Self::AuthenticationFailure,
        Self::Replication,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Fatal => "fatal",
            Self::Panic => "panic",
            Self::Warning => "warning",
            Self::Checkpoint => "checkpoint",
            Self::Autovacuum => "autovacuum",
            Self::Autoanalyze => "autoanalyze",
            Self::SlowStatement => "slow_statement",
            Self::LockWait => "lock_wait",
            Self::Deadlock => "deadlock",
            Self::TempFile => "temp_file",
            Self::Connection => "connection",
            Self::AuthenticationFailure => "authentication_failure",
            Self::Replication => "replication",
        }
    }
}

/// The category of an entry, its duration in milliseconds where it has one, and its message
/// as sent (statement texts redacted). `None`: not an event worth sending (routine `LOG`
/// lines, debug output).
pub fn classify(
    severity: &str,
    sqlstate: Option<&str>,
    message: &str,
) -> Option<(Category, Option<f64>, String)> {
    let m = message;
    let plain = |c: Category| Some((c, None, m.to_owned()));
    if let Some(rest) = m.strip_prefix("duration: ") {
        let (ms, statement) = rest.split_once(" ms").unwrap_or((rest, ""));
        let ms = ms.trim().parse::<f64>().ok();
        return Some((Category::SlowStatement, ms, redact_statement(statement)));
    }
    if m.starts_with("checkpoint complete") || m.starts_with("restartpoint complete") {
        // "... total=1.234 s; ..."
        let ms = number_after(m, "total=").map(|s| s * 1000.0);
        return Some((Category::Checkpoint, ms, m.to_owned()));
    }
    if m.starts_with("automatic vacuum of table") || m.starts_with("automatic aggressive vacuum") {
        let ms = number_after(m, "elapsed: ").map(|s| s * 1000.0);
        return Some((Category::Autovacuum, ms, first_line(m)));
    }
    if m.starts_with("automatic analyze of table") {
        let ms = number_after(m, "elapsed: ").map(|s| s * 1000.0);
        return Some((Category::Autoanalyze, ms, first_line(m)));
    }
    if m.contains(" still waiting for ") || m.contains(" acquired ") && m.contains(" after ") {
        let ms = number_after(m, " after ");
        return Some((Category::LockWait, ms, m.to_owned()));
    }
    if m.starts_with("deadlock detected") || sqlstate == Some("40P01") {
        return plain(Category::Deadlock);
    }
    if m.starts_with("temporary file: ") {
        return plain(Category::TempFile);
    }
    if m.starts_with("password authentication failed")
        || m.starts_with("no pg_hba.conf entry")
        || m.contains("authentication failed for user")
        || sqlstate.is_some_and(|s| s.starts_with("28"))
    {
        return plain(Category::AuthenticationFailure);
    }
    match severity {
        "ERROR" => return plain(Category::Error),
        "FATAL" => return plain(Category::Fatal),
        "PANIC" => return plain(Category::Panic),
        _ => {}
    }
    if m.starts_with("connection received")
        || m.starts_with("connection authorized")
        || m.starts_with("disconnection:")
    {
        return plain(Category::Connection);
    }
    let replication = [
        "streaming",
        "replication",
        "standby",
        "recovery",
        "WAL receiver",
    ];
    if m.starts_with("redo ") || replication.iter().any(|w| m.contains(w)) {
        return plain(Category::Replication);
    }
    (severity == "WARNING").then(|| (Category::Warning, None, m.to_owned()))
}

/// `statement: …`, `execute <name>: …`, `parse …`, `bind …`: the kind kept, the SQL redacted.
fn redact_statement(rest: &str) -> String {
    let rest = rest.trim_start();
    match rest.split_once(": ") {
        Some((kind, sql)) => format!("{kind}: {}", redact_sql(sql)),
        None => redact_sql(rest),
    }
}

fn number_after(m: &str, marker: &str) -> Option<f64> {
    let at = m.find(marker)? + marker.len();
    let digits: &str = &m[at..];
    let end = digits
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_categories_are_recognised_with_their_figures() {
        /// severity, SQLSTATE, message, expected category and duration.
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Category, Option<f64>);
        let cases: &[Case<'_>] = &[
            (
                "LOG",
                None,
                "duration: 12.5 ms  statement: SELECT * FROM t WHERE a = 'x'",
                Category::SlowStatement,
                Some(12.5),
            ),
            (
                "LOG",
                None,
                "checkpoint complete: wrote 3 buffers (0.0%); 0 WAL file(s) added, 0 removed, 0 recycled; write=0.101 s, sync=0.002 s, total=0.110 s; sync files=2",
                Category::Checkpoint,
                Some(110.0),
            ),
            (
                "LOG",
                None,
                "automatic vacuum of table \"shop.public.t\": index scans: 0\n\tsystem usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.25 s",
                Category::Autovacuum,
                Some(250.0),
            ),
            (
                "LOG",
                None,
                "automatic analyze of table \"shop.public.t\"\n\tsystem usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.03 s",
                Category::Autoanalyze,
                Some(30.0),
            ),
            (
                "LOG",
                None,
                "process 42 still waiting for ShareLock on transaction 7 after 1000.123 ms",
                Category::LockWait,
                Some(1000.123),
            ),
            (
                "ERROR",
                Some("40P01"),
                "deadlock detected",
                Category::Deadlock,
                None,
            ),
            (
                "LOG",
                None,
                "temporary file: path \"base/pgsql_tmp/pgsql_tmp1.0\", size 1048576",
                Category::TempFile,
                None,
            ),
            (
                "FATAL",
                Some("28P01"),
                "password authentication failed for user \"app\"",
                Category::AuthenticationFailure,
                None,
            ),
            (
                "LOG",
                None,
                "connection authorized: user=app database=shop",
                Category::Connection,
                None,
            ),
            (
                "LOG",
                None,
                "started streaming WAL from primary at 0/3000000 on timeline 1",
                Category::Replication,
                None,
            ),
            (
                "ERROR",
                Some("42P01"),
                "relation \"nope\" does not exist",
                Category::Error,
                None,
            ),
            (
                "FATAL",
                Some("57P01"),
                "terminating connection due to administrator command",
                Category::Fatal,
                None,
            ),
            (
                "PANIC",
                None,
                "could not write to file",
                Category::Panic,
                None,
            ),
        ];
        for (sev, state, msg, cat, ms) in cases {
            let (c, d, _) = classify(sev, *state, msg).unwrap_or_else(|| panic!("{msg}"));
            assert_eq!((c, d), (*cat, *ms), "{msg}");
        }
        assert!(
            classify(
                "LOG",
                None,
                "database system is ready to accept connections"
            )
            .is_none()
        );
    }

    #[test]
    fn statement_texts_are_redacted() {
        let (_, _, m) = classify(
            "LOG",
            None,
            "duration: 1.0 ms  statement: UPDATE u SET pw = 'hunter2' WHERE id = 7",
        )
        .unwrap();
        assert_eq!(m, "statement: UPDATE u SET pw = '?' WHERE id = ?");
        let (_, _, m) = classify("LOG", None, "duration: 1.0 ms  execute S_1: SELECT $1").unwrap();
        assert_eq!(m, "execute S_1: SELECT $1");
    }
}
