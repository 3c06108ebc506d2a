use super::*;
use proptest::prelude::*;

fn events(parser: &mut LogParser, text: &str) -> Vec<LogEvent> {
    let mut out: Vec<LogEvent> = text.lines().filter_map(|l| parser.push(l)).collect();
    out.extend(parser.flush());
    out
}

#[test]
fn stderr_entries_are_stitched_and_their_statements_and_parameters_dropped() {
    let log = "\
2026-11-21 07:00:00.100 UTC [10] app@shop LOG:  duration: 2.5 ms  execute S_1: SELECT *
\tFROM accounts
\tWHERE email = $1
2026-11-21 07:00:00.100 UTC [10] app@shop DETAIL:  parameters: $1 = 'alice@example.com'
2026-11-21 07:00:01.000 UTC [11] app@shop ERROR:  relation \"nope\" does not exist at character 15
2026-11-21 07:00:01.000 UTC [11] app@shop STATEMENT:  SELECT * FROM nope
\tWHERE secret = 'x'
2026-11-21 07:00:02.000 UTC [12] LOG:  automatic vacuum of table \"shop.public.accounts\": index scans: 1
\tpages: 0 removed, 10 remain
\tsystem usage: CPU: user: 0.01 s, system: 0.00 s, elapsed: 0.50 s
2026-11-21 07:00:03.000 UTC [13] LOG:  database system is ready to accept connections
";
    let mut p = LogParser::new(LogFormat::Stderr, "%m [%p] %q%u@%d ");
    let e = events(&mut p, log);
    assert_eq!(e.len(), 3, "{e:#?}");
    assert_eq!(e[0].category, Category::SlowStatement);
    assert_eq!(e[0].duration_ms, Some(2.5));
    assert_eq!(
        e[0].message,
        "execute S_1: SELECT *\n\tFROM accounts\n\tWHERE email = $1"
    );
    assert_eq!(
        (e[0].datname.as_deref(), e[0].pid),
        (Some("shop"), Some(10))
    );
    assert_eq!(
        e[0].time,
        Some(time::macros::datetime!(2026-11-21 07:00:00.100 UTC))
    );
    assert_eq!(e[1].category, Category::Error);
    assert!(!format!("{e:?}").contains("alice") && !format!("{e:?}").contains("secret"));
    assert_eq!(e[2].category, Category::Autovacuum);
    assert_eq!(e[2].duration_ms, Some(500.0));
}

#[test]
fn csvlog_records_spanning_lines_are_read_whole() {
    let log = "\
2026-11-21 07:00:00.100 UTC,\"app\",\"shop\",10,\"[local]\",1.1,1,\"SELECT\",2026-11-21 06:59:00 UTC,3/4,0,LOG,00000,\"duration: 3.000 ms  statement: SELECT 'a',
  2\",,,,,,,,,\"psql\",client backend,,0
2026-11-21 07:00:01.000 UTC,\"app\",\"shop\",11,\"[local]\",1.2,1,\"SELECT\",2026-11-21 06:59:00 UTC,3/5,0,ERROR,42P01,\"relation \"\"nope\"\" does not exist\",,,,,,\"SELECT * FROM nope\",15,,\"psql\",client backend,,0
";
    let mut p = LogParser::new(LogFormat::Csv, "");
    let e = events(&mut p, log);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(e[0].category, Category::SlowStatement);
    assert_eq!(e[0].message, "statement: SELECT '?',\n  ?");
    assert_eq!(e[0].application_name.as_deref(), Some("psql"));
    assert_eq!(e[1].sqlstate.as_deref(), Some("42P01"));
    assert_eq!(e[1].message, "relation \"nope\" does not exist");
}

#[test]
fn jsonlog_lines_are_read() {
    let line = r#"{"timestamp":"2026-11-21 07:00:00.100 UTC","user":"app","dbname":"shop","pid":10,"error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \"app\"","application_name":"psql","backend_type":"client backend"}"#;
    let mut p = LogParser::new(LogFormat::Json, "");
    let e = events(&mut p, line);
    assert_eq!(e[0].category, Category::AuthenticationFailure);
    assert_eq!(e[0].sqlstate.as_deref(), Some("28P01"));
}

#[test]
fn times_in_every_form_postgresql_writes() {
    let t = time::macros::datetime!(2026-11-21 07:00:00 UTC);
    assert_eq!(parse_time("2026-11-21 07:00:00 UTC"), Some(t));
    assert_eq!(parse_time("2026-11-21 08:00:00.000 +01"), Some(t));
    assert_eq!(parse_time("1795244400.000"), Some(t));
    assert_eq!(
        parse_time("2026-11-21 07:00:00 CST"),
        None,
        "ambiguous abbreviation"
    );
}

#[test]
fn a_huge_entry_keeps_memory_bounded() {
    let mut p = LogParser::new(LogFormat::Stderr, "%m [%p] ");
    p.push("2026-11-21 07:00:00.100 UTC [10] ERROR:  boom");
    let chunk = "x".repeat(10_000);
    for _ in 0..1_000 {
        p.push(&chunk);
    }
    let e = p.flush().unwrap();
    assert!(e.message.len() <= MAX_MESSAGE_BYTES);
    let mut csv = LogParser::new(LogFormat::Csv, "");
    csv.push("2026-11-21 07:00:00.100 UTC,,,1,,,,,,,,LOG,00000,\"start");
    for _ in 0..1_000 {
        csv.push(&chunk);
    }
    assert!(csv.record.len() < 5 * MAX_MESSAGE_BYTES);
}

proptest! {
    #[test]
    fn no_input_panics_any_parser(lines in proptest::collection::vec(".{0,120}", 0..20)) {
        for format in [LogFormat::Stderr, LogFormat::Csv, LogFormat::Json] {
            let mut p = LogParser::new(format, "%m [%p] %q%u@%d ");
            for l in &lines {
                let _ = p.push(l);
            }
            let _ = p.flush();
        }
    }
}
