//! Removes literal values from SQL text before it leaves the host: string constants
//! (`'…'`, `E'…'`, `$tag$…$tag$`) become `'?'` and numeric constants `?`. Identifiers,
//! quoted identifiers, parameters (`$1`), comments and keywords are kept, so a redacted
//! statement still reads as the query it was. A lexer, not a parser: unterminated input is
//! redacted to its end, never echoed.

/// `sql` with its literal values replaced.
pub fn redact_sql(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        let (skip_to, replacement) = match c {
            b'\'' => (end_of_string(b, i + 1, backslash_escapes(b, i)), "'?'"),
            b'"' => (end_of_quoted(b, i + 1, b'"'), ""),
            b'-' if b.get(i + 1) == Some(&b'-') => (end_of_line(b, i), ""),
            b'/' if b.get(i + 1) == Some(&b'*') => (end_of_block_comment(b, i + 2), ""),
            b'$' if !prev_ident => match dollar_tag(b, i) {
                Some(tag_end) => (end_of_dollar(b, i, tag_end), "'?'"),
                None => (skip_while(b, i + 1, |c| c.is_ascii_digit()), ""),
            },
            b'0'..=b'9' | b'.' if !prev_ident && starts_number(b, i) => (end_of_number(b, i), "?"),
            _ if is_ident(c) => (skip_while(b, i, is_ident), ""),
            _ => (i + 1, ""),
        };
        if !replacement.is_empty() {
            // An `E` (or `e`) prefix belongs to the literal.
            let start = if c == b'\''
                && i > copied
                && matches!(b[i - 1], b'E' | b'e')
                && (i < 2 || !is_ident(b[i - 2]))
            {
                i - 1
            } else {
                i
            };
            out.push_str(&sql[copied..start]);
            out.push_str(replacement);
            copied = skip_to;
        }
        i = skip_to.max(i + 1);
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn skip_while(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

/// Whether the literal opening at `quote` is an `E'…'` string, where `\'` escapes.
fn backslash_escapes(b: &[u8], quote: usize) -> bool {
    quote > 0 && matches!(b[quote - 1], b'E' | b'e') && (quote < 2 || !is_ident(b[quote - 2]))
}

fn end_of_string(b: &[u8], mut i: usize, backslashes: bool) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' if backslashes => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn end_of_quoted(b: &[u8], mut i: usize, q: u8) -> usize {
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

fn end_of_line(b: &[u8], i: usize) -> usize {
    skip_while(b, i, |c| c != b'\n')
}

fn end_of_block_comment(b: &[u8], mut i: usize) -> usize {
    while i + 1 < b.len() {
        if b[i] == b'*' && b[i + 1] == b'/' {
            return i + 2;
        }
        i += 1;
    }
    b.len()
}

/// If a dollar-quote tag (`$$`, `$tag$`) opens at `i`, the index just past it.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let end = skip_while(b, i + 1, |c| {
        c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
    });
    let tag_ok = end == i + 1 || !b[i + 1].is_ascii_digit();
    (tag_ok && b.get(end) == Some(&b'$')).then_some(end + 1)
}

fn end_of_dollar(b: &[u8], open: usize, tag_end: usize) -> usize {
    let tag = &b[open..tag_end];
    b[tag_end..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| tag_end + p + tag.len())
}

fn starts_number(b: &[u8], i: usize) -> bool {
    b[i].is_ascii_digit() || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
}

fn end_of_number(b: &[u8], i: usize) -> usize {
    let mut j = skip_while(b, i, |c| {
        c.is_ascii_alphanumeric() || c == b'.' || c == b'_'
    });
    // An exponent sign: 1e-5.
    while j + 1 < b.len() && matches!(b[j - 1], b'e' | b'E') && matches!(b[j], b'+' | b'-') {
        j = skip_while(b, j + 1, |c| c.is_ascii_alphanumeric() || c == b'.');
    }
    j
}

#[cfg(test)]
mod tests {
    use super::redact_sql;
    use proptest::prelude::*;

    #[test]
    fn literals_go_and_the_shape_of_the_query_stays() {
        let cases = [
            (
                "SELECT * FROM t1 WHERE name = 'alice' AND id = 42",
                "SELECT * FROM t1 WHERE name = '?' AND id = ?",
            ),
            (
                "ALTER ROLE bob PASSWORD 'it''s secret'",
                "ALTER ROLE bob PASSWORD '?'",
            ),
            ("SELECT E'a\\'b', 1.5e-3, .5", "SELECT '?', ?, ?"),
            ("SELECT $$x'y$$ || $f$z$f$", "SELECT '?' || '?'"),
            (
                "SELECT \"Col'1\" FROM x WHERE a = $1",
                "SELECT \"Col'1\" FROM x WHERE a = $1",
            ),
            (
                "SELECT 1 -- id 7\n, 'z' /* '9' */",
                "SELECT ? -- id 7\n, '?' /* '9' */",
            ),
            (
                "INSERT INTO t VALUES ('unterminated",
                "INSERT INTO t VALUES ('?'",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_sql(input), expected, "{input}");
        }
    }

    proptest! {
        #[test]
        fn no_quoted_secret_survives_redaction(secret in "[a-zA-Z0-9 ]{1,20}", pre in "[a-z =,(]{0,10}") {
            let sql = format!("{pre}'{secret}zz' and {pre}");
            let needle = format!("{secret}zz");
            prop_assert!(!redact_sql(&sql).contains(&needle));
        }

        #[test]
        fn any_input_is_redacted_without_panicking(sql in ".{0,200}") {
            let _ = redact_sql(&sql);
        }
    }
}
