//! `log_line_prefix` as a pattern to read stderr log lines back.
//!
//! The prefix is compiled into literals and fields (`%m`, `%p`, `%d`, …). A line is matched
//! by walking the pattern: a literal must be there, a field takes the bytes up to the next
//! literal (or, for the last field, up to the severity). Escapes that print nothing
//! useful to us are matched and ignored.

/// A field of the prefix the agent keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `%m`, `%t`, `%n`: the time.
    Time,
    /// `%p`
    Pid,
    /// `%u`
    User,
    /// `%d`
    Database,
    /// `%a`
    Application,
    /// `%e`
    SqlState,
    /// `%Q` (14+): the query id.
    QueryId,
    /// `%r`: `host(port)`, which may contain colons (IPv6).
    Remote,
    /// Any other escape: matched, not kept.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Field),
}

/// A compiled `log_line_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    parts: Vec<Part>,
    /// Where `%q` was: processes without a session stop printing the prefix there.
    session_only_from: Option<usize>,
}

/// What a prefix yields from one line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields<'a> {
    pub time: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub user: Option<&'a str>,
    pub database: Option<&'a str>,
    pub application: Option<&'a str>,
    pub sqlstate: Option<&'a str>,
    pub query_id: Option<&'a str>,
}

impl Prefix {
    /// Compiles `log_line_prefix`. `%q` (end of prefix for non-session processes) is dropped:
    /// the fields after it are then simply empty.
    pub fn compile(prefix: &str) -> Self {
        let mut parts = Vec::new();
        let mut session_only_from = None;
        let mut literal = String::new();
        let mut chars = prefix.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            // Padding such as %-10u: skip the width.
            while chars
                .peek()
                .is_some_and(|c| *c == '-' || c.is_ascii_digit())
            {
                chars.next();
            }
            let field = match chars.next() {
                Some('%') => {
                    literal.push('%');
                    continue;
                }
                Some('q') => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    session_only_from.get_or_insert(parts.len());
                    continue;
                }
                None => continue,
                Some('m' | 't' | 'n') => Field::Time,
                Some('p') => Field::Pid,
                Some('u') => Field::User,
                Some('d') => Field::Database,
                Some('a') => Field::Application,
                Some('e') => Field::SqlState,
                Some('Q') => Field::QueryId,
                Some('r') => Field::Remote,
                Some(_) => Field::Other,
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field(field));
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Self {
            parts,
            session_only_from,
        }
    }

    /// Whether the prefix has what events need: a time with milliseconds or a Unix epoch
    /// (`%m` or `%n`) and the process id (`%p`). `check` reports the fix otherwise.
    pub fn missing_essentials(raw: &str) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !raw.contains("%m") && !raw.contains("%n") {
            missing.push("%m");
        }
        if !raw.contains("%p") {
            missing.push("%p");
        }
        missing
    }

    /// Matches the prefix at the start of `line`; returns the fields and the rest of the
    /// line (`SEVERITY:  message`). `None`: the line does not start with the prefix (a
    /// continuation of the previous entry).
    pub fn parse<'a>(&self, line: &'a str) -> Option<(Fields<'a>, &'a str)> {
        let mut fields = Fields::default();
        let mut rest = line;
        if let Some(q) = self.session_only_from {
            // A line of a process without a session ends the prefix at %q; try that first
            // when what follows is already a severity.
            if let Some(after) = self.walk(&self.parts[..q], line, &mut fields)
                && super::split_severity(after).is_some()
            {
                return Some((fields, after));
            }
            fields = Fields::default();
        }
        rest = self.walk(&self.parts, rest, &mut fields)?;
        Some((fields, rest))
    }

    fn walk<'a>(&self, parts: &[Part], line: &'a str, fields: &mut Fields<'a>) -> Option<&'a str> {
        let mut rest = line;
        let mut i = 0;
        while i < parts.len() {
            match &parts[i] {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Field(field) => {
                    let end = match parts.get(i + 1) {
                        Some(Part::Literal(next)) => field_end(*field, rest, next)?,
                        // Two fields in a row, or the last one: a field is one word.
                        _ => rest.find(' ').unwrap_or(rest.len()),
                    };
                    let value = &rest[..end];
                    rest = &rest[end..];
                    let plausible = match field {
                        Field::Time => value.starts_with(|c: char| c.is_ascii_digit()),
                        Field::Pid => value.bytes().all(|b| b.is_ascii_digit()),
                        _ => true,
                    };
                    if !plausible {
                        return None;
                    }
                    let value = (!value.is_empty() && value != "[unknown]").then_some(value);
                    match field {
                        Field::Time => fields.time = value,
                        Field::Pid => fields.pid = value,
                        Field::User => fields.user = value,
                        Field::Database => fields.database = value,
                        Field::Application => fields.application = value,
                        Field::SqlState => fields.sqlstate = value,
                        Field::QueryId => fields.query_id = value,
                        Field::Remote | Field::Other => {}
                    }
                }
            }
            i += 1;
        }
        Some(rest)
    }
}

/// Where a field ends: before `next`. A time contains spaces and colons
/// (`2026-11-21 07:00:00.123 UTC`), so its length comes from its shape; a remote host
/// (`::1(5432)`) ends at its port's parenthesis; other fields at the first `next`.
fn field_end(field: Field, rest: &str, next: &str) -> Option<usize> {
    let end = match field {
        Field::Time => time_len(rest),
        Field::Remote => rest
            .find(')')
            .map(|i| i + 1)
            .filter(|_| !rest.starts_with("[local]"))
            .or_else(|| rest.starts_with("[local]").then_some("[local]".len())),
        _ => None,
    };
    match end {
        Some(end) if rest[end..].starts_with(next) => Some(end),
        _ => rest.find(next),
    }
}

/// The length of a time at the start of `s`: `YYYY-MM-DD HH:MM:SS[.fff] ZONE` (`%m`, `%t`)
/// or a Unix epoch with milliseconds (`%n`).
fn time_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    if b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
    {
        let mut end = 19;
        if b.get(end) == Some(&b'.') {
            end += 1 + digits(end + 1);
        }
        if b.get(end) == Some(&b' ') {
            let zone = b[end + 1..]
                .iter()
                .take_while(|c| !c.is_ascii_whitespace() && **c != b'[' && **c != b']')
                .count();
            // A zone is letters or a signed offset; a colon ends it (`%t:%r`).
            let zone = s[end + 1..end + 1 + zone]
                .find(|c: char| c == ':' && !s[end + 1..].starts_with(['+', '-']))
                .unwrap_or(zone);
            end += 1 + zone;
        }
        return Some(end);
    }
    let whole = digits(0);
    if whole > 0 && b.get(whole) == Some(&b'.') {
        return Some(whole + 1 + digits(whole + 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debian_default_prefix_reads_back() {
        let p = Prefix::compile("%m [%p] %q%u@%d ");
        let (f, rest) = p
            .parse("2026-11-21 07:00:00.123 UTC [4242] app@shop LOG:  duration: 1.5 ms")
            .unwrap();
        assert_eq!(f.time, Some("2026-11-21 07:00:00.123 UTC"));
        assert_eq!(f.pid, Some("4242"));
        assert_eq!((f.user, f.database), (Some("app"), Some("shop")));
        assert_eq!(rest, "LOG:  duration: 1.5 ms");

        // A background process: %q ends the prefix, user@db is empty.
        let (f, rest) = p
            .parse("2026-11-21 07:00:00.123 UTC [17] LOG:  checkpoint starting: time")
            .unwrap();
        assert_eq!(f.pid, Some("17"));
        assert_eq!(f.user, None);
        assert!(rest.starts_with("LOG:  checkpoint"), "{rest}");
    }

    #[test]
    fn a_rich_prefix_with_sqlstate_and_application() {
        let p = Prefix::compile("%m [%p] %e %a %u@%d: ");
        let (f, rest) = p
            .parse("2026-11-21 07:00:00.123 CET [99] 23505 psql app@shop: ERROR:  duplicate key")
            .unwrap();
        assert_eq!(f.sqlstate, Some("23505"));
        assert_eq!(f.application, Some("psql"));
        assert_eq!(rest, "ERROR:  duplicate key");
    }

    #[test]
    fn the_rds_prefix_with_colons_after_escapes_reads_back() {
        let p = Prefix::compile("%t:%r:%u@%d:[%p]:");
        let (f, rest) = p
            .parse("2026-11-21 07:00:00 UTC:10.0.0.5(53412):app@shop:[4242]:LOG:  duration: 1.5 ms")
            .unwrap();
        assert_eq!(f.time, Some("2026-11-21 07:00:00 UTC"));
        assert_eq!(
            (f.user, f.database, f.pid),
            (Some("app"), Some("shop"), Some("4242"))
        );
        assert_eq!(rest, "LOG:  duration: 1.5 ms");
        let (f, _) = p
            .parse("2026-11-21 07:00:00 UTC:[::1](5432):app@shop:[7]:ERROR:  boom")
            .unwrap();
        assert_eq!((f.user, f.pid), (Some("app"), Some("7")));
        // A background process: no host, user or database.
        let (f, rest) = p
            .parse("2026-11-21 07:00:00 UTC::@:[17]:LOG:  checkpoint starting: time")
            .unwrap();
        assert_eq!((f.user, f.pid), (None, Some("17")));
        assert!(rest.starts_with("LOG:"));
    }

    #[test]
    fn zone_abbreviations_and_query_ids_read_back() {
        let p = Prefix::compile("%m [%p] %Q ");
        let (f, rest) = p
            .parse("2026-11-21 08:00:00.123 CET [9] -123456789 LOG:  x")
            .unwrap();
        assert_eq!(f.time, Some("2026-11-21 08:00:00.123 CET"));
        assert_eq!(f.query_id, Some("-123456789"));
        assert_eq!(rest, "LOG:  x");
    }

    #[test]
    fn continuation_lines_do_not_match() {
        let p = Prefix::compile("%m [%p] ");
        assert!(p.parse("\tFROM accounts").is_none());
        assert!(p.parse("").is_none());
    }

    #[test]
    fn essentials_are_time_with_milliseconds_and_pid() {
        assert!(Prefix::missing_essentials("%m [%p] ").is_empty());
        assert_eq!(Prefix::missing_essentials("%t "), vec!["%m", "%p"]);
    }
}
