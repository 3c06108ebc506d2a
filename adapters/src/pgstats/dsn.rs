//! libpq connection strings: the target's DSN as the operator wrote it (key/value, URI or a
//! bare service name), and the same DSN pointed at another database of the instance.
//!
//! Everything else (host, port, user, password, sslmode, PGHOST, PGSERVICE, `.pgpass`) is
//! left to libpq, so the agent connects exactly as `psql` would with the same string.

/// The DSN libpq gets: a bare word is a service name from `pg_service.conf`.
pub fn normalise(dsn: &str) -> String {
    let dsn = dsn.trim();
    if dsn.is_empty() || dsn.contains('=') || is_uri(dsn) {
        dsn.to_owned()
    } else {
        format!("service={}", quote(dsn))
    }
}

fn is_uri(dsn: &str) -> bool {
    dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")
}

/// A key/value value in single quotes, with `\` and `'` escaped as libpq expects.
fn quote(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// `dsn` connected to `dbname` instead of its own database.
///
/// A key/value string gets a trailing `dbname=` (libpq keeps the last value of a keyword);
/// a URI gets its path replaced, percent-encoding the name.
pub fn with_dbname(dsn: &str, dbname: &str) -> String {
    let dsn = normalise(dsn);
    if !is_uri(&dsn) {
        return format!("{dsn} dbname={}", quote(dbname))
            .trim_start()
            .to_owned();
    }
    let scheme_end = dsn.find("://").map_or(0, |i| i + 3);
    let (head, rest) = dsn.split_at(scheme_end);
    let query_at = rest.find('?').unwrap_or(rest.len());
    let (location, query) = rest.split_at(query_at);
    let authority = location.split('/').next().unwrap_or("");
    format!("{head}{authority}/{}{query}", percent_encode(dbname))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_word_is_a_service_name_and_strings_pass_through() {
        assert_eq!(normalise("prod"), "service='prod'");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("host=/tmp port=5432"), "host=/tmp port=5432");
        assert_eq!(normalise("postgresql:///x"), "postgresql:///x");
    }

    #[test]
    fn another_database_overrides_the_dsn_database_in_both_syntaxes() {
        assert_eq!(
            with_dbname("host=db user=me dbname=postgres", "app's db"),
            "host=db user=me dbname=postgres dbname='app\\'s db'"
        );
        assert_eq!(with_dbname("", "app"), "dbname='app'");
        assert_eq!(with_dbname("prod", "app"), "service='prod' dbname='app'");
        assert_eq!(
            with_dbname("postgresql://u:p@h:5/postgres?sslmode=require", "a b"),
            "postgresql://u:p@h:5/a%20b?sslmode=require"
        );
        assert_eq!(
            with_dbname("postgresql:///postgres?host=/run/pg&port=5433", "app"),
            "postgresql:///app?host=/run/pg&port=5433"
        );
        assert_eq!(with_dbname("postgres://h", "app"), "postgres://h/app");
    }
}
