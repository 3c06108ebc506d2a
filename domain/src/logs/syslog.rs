//! The lines a syslog daemon writes for PostgreSQL's `syslog` log destination:
//!
//! ```text
//! Nov 21 07:00:00 db1 postgres[4242]: [7-1] 2026-11-21 07:00:00.100 UTC [4242] LOG:  …
//! 2026-11-21T07:00:00.100000+00:00 db1 postgres[4242]: [7-2] #011FROM t
//! ```
//!
//! The traditional header (no year, no zone) or RFC 3339 (rsyslog's `RSYSLOG_FileFormat`),
//! the program and its pid, then PostgreSQL's `[sequence-chunk]` (`syslog_sequence_numbers`)
//! and the text. The server sends each line of a message as a chunk of its own and cuts
//! longer lines at 900 bytes; rsyslog writes control characters as `#ooo`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// PostgreSQL cuts a line sent to syslog at this many bytes (`PG_SYSLOG_LIMIT` is 900;
/// it cuts at a space before it).
pub const CUT_AT: usize = 800;

/// One syslog line.
#[derive(Debug, PartialEq)]
pub struct Line<'a> {
    /// The header's time when it has a year and a zone (RFC 3339).
    pub time: Option<OffsetDateTime>,
    pub pid: Option<i64>,
    /// `[sequence-chunk]`, when the server numbers its messages.
    pub sequence: Option<(u64, u32)>,
    pub body: &'a str,
}

/// Reads a syslog line; `None` when it is not one.
pub fn parse(line: &str) -> Option<Line<'_>> {
    let (time, rest) = header_time(line)?;
    // host, then `program[pid]:`
    let (_, rest) = rest.trim_start().split_once(' ')?;
    let (tag, body) = rest
        .split_once(": ")
        .or_else(|| rest.strip_suffix(':').map(|t| (t, "")))?;
    let pid = tag
        .split_once('[')
        .and_then(|(_, p)| p.strip_suffix(']'))
        .and_then(|p| p.parse().ok());
    let (sequence, body) = match body.strip_prefix('[').and_then(|b| {
        b.split_once("] ")
            .or_else(|| b.strip_suffix(']').map(|s| (s, "")))
    }) {
        Some((numbers, rest)) => match numbers.split_once('-') {
            Some((seq, chunk)) => match (seq.parse(), chunk.parse()) {
                (Ok(seq), Ok(chunk)) => (Some((seq, chunk)), rest),
                _ => (None, body),
            },
            None => (None, body),
        },
        None => (None, body),
    };
    Some(Line {
        time,
        pid,
        sequence,
        body,
    })
}

/// The header's time and the rest of the line.
fn header_time(line: &str) -> Option<(Option<OffsetDateTime>, &str)> {
    let b = line.as_bytes();
    // RFC 3339: 2026-11-21T07:00:00.100000+00:00
    if b.len() > 20 && b[4] == b'-' && b[10] == b'T' {
        let (stamp, rest) = line.split_once(' ')?;
        return Some((OffsetDateTime::parse(stamp, &Rfc3339).ok(), rest));
    }
    // Traditional: `Nov 21 07:00:00` (15 bytes, the day padded with a space).
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if b.len() > 16 && MONTHS.contains(&line.get(..3)?) && b[3] == b' ' && b[9] == b':' {
        return Some((None, &line[15..]));
    }
    None
}

/// rsyslog's escapes of control characters (`#011` is a tab) undone.
pub fn unescape(body: &str) -> std::borrow::Cow<'_, str> {
    if !body.contains('#') {
        return body.into();
    }
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(c) if c < 0x20 && code.is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit())) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            _ => {
                out.push('#');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_headers_read() {
        let l = parse("Nov 21 07:00:00 db1 postgres[4242]: [7-1] LOG:  x").unwrap();
        assert_eq!(
            (l.pid, l.sequence, l.body, l.time),
            (Some(4242), Some((7, 1)), "LOG:  x", None)
        );
        let l =
            parse("2026-11-21T07:00:00.100000+01:00 db1 postgres[9]: [8-2] #011FROM t").unwrap();
        assert_eq!(
            l.time,
            Some(time::macros::datetime!(2026-11-21 06:00:00.1 UTC))
        );
        assert_eq!(
            (l.sequence, unescape(l.body).as_ref()),
            (Some((8, 2)), "\tFROM t")
        );
        // Without sequence numbers.
        let l = parse("Nov  1 07:00:00 db1 postgres[9]: LOG:  y").unwrap();
        assert_eq!((l.sequence, l.body), (None, "LOG:  y"));
        assert!(parse("not a syslog line").is_none());
    }
}
