use super::*;
use proptest::prelude::*;

fn events(parser: &mut LogParser, text: &str) -> Vec<LogEvent> {
    let mut out: Vec<LogEvent> = text.lines().filter_map(|l| parser.push(l)).collect();
    out.extend(parser.flush());
    out
}

fn one(severity: &str, sqlstate: Option<&str>, message: &str) -> Classified {
    Classifier::default()
        .classify(severity, sqlstate, message, &[])
        .unwrap_or_else(|| panic!("no event for {message}"))
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
\tpages: 3 removed, 10 remain, 13 scanned (100.00% of total)
\ttuples: 42 removed, 100 remain, 0 are dead but not yet removable
\tWAL usage: 30 records, 2 full page images, 17000 bytes
\tsystem usage: CPU: user: 0.01 s, system: 0.00 s, elapsed: 0.50 s
2026-11-21 07:00:03.000 UTC [13] LOG:  database system is ready to accept connections
";
    let mut p = LogParser::new(LogFormat::Stderr, "%m [%p] %q%u@%d ");
    let e = events(&mut p, log);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert_eq!(
        (e[0].category, e[0].kind),
        (Category::Statement, "slow_statement")
    );
    assert_eq!(e[0].duration_ms(), Some(2.5));
    assert_eq!(
        e[0].message,
        "duration: 2.5 ms  execute S_1: SELECT *\nFROM accounts\nWHERE email = $1"
    );
    assert_eq!(
        (e[0].datname.as_deref(), e[0].pid),
        (Some("shop"), Some(10))
    );
    assert_eq!(
        e[0].time,
        Some(time::macros::datetime!(2026-11-21 07:00:00.100 UTC))
    );
    // "… at character 15" (stderr's cursor position) is not part of the template.
    assert_eq!(
        (e[1].category, e[1].kind),
        (Category::Application, "undefined_table")
    );
    assert!(!format!("{e:?}").contains("alice") && !format!("{e:?}").contains("secret"));
    assert_eq!((e[2].category, e[2].kind), (Category::Vacuum, "autovacuum"));
    let f = &e[2].fields;
    assert_eq!(f.relation.as_deref(), Some("shop.public.accounts"));
    assert_eq!(
        (f.pages_removed, f.tuples_removed, f.wal_bytes),
        (Some(3.0), Some(42.0), Some(17000.0))
    );
    assert_eq!(f.duration_ms, Some(500.0));
    assert_eq!(e[3].kind, "server_ready");
}

#[test]
fn the_dropped_and_misfiled_messages_of_the_third_party_trial_get_their_kinds() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "LOG",
            "server process (PID 4242) was terminated by signal 9: Killed",
            "process_crashed",
        ),
        (
            "LOG",
            "server process (PID 77) was terminated by signal 6: Aborted",
            "process_crashed",
        ),
        (
            "LOG",
            "terminating any other active server processes",
            "terminating_other_processes",
        ),
        (
            "LOG",
            "all server processes terminated; reinitializing",
            "server_reinitializing",
        ),
        (
            "LOG",
            "archive command failed with exit code 1",
            "archive_command_failed",
        ),
        (
            "LOG",
            "process 99 detected deadlock while waiting for ShareLock on transaction 771 after 1000.082 ms",
            "deadlock_detected_while_waiting",
        ),
        (
            "LOG",
            "checkpoints are occurring too frequently (9 seconds apart)",
            "checkpoints_too_frequent",
        ),
        (
            "LOG",
            "checkpoints are occurring too frequently (1 second apart)",
            "checkpoints_too_frequent",
        ),
        (
            "LOG",
            "skipping vacuum of \"orders\" --- lock not available",
            "vacuum_skipped_lock",
        ),
        (
            "LOG",
            "could not receive data from client: Connection reset by peer",
            "client_receive_failed",
        ),
        (
            "LOG",
            "could not accept SSL connection: wrong version number",
            "ssl_accept_failed",
        ),
        (
            "LOG",
            "starting PostgreSQL 15.10 on x86_64-pc-linux-gnu, compiled by gcc, 64-bit",
            "server_starting",
        ),
        ("LOG", "received fast shutdown request", "shutdown_fast"),
        (
            "LOG",
            "received SIGHUP, reloading configuration files",
            "server_reload",
        ),
        ("LOG", "database system is shut down", "server_shut_down"),
        ("ERROR", "out of memory", "out_of_memory"),
        (
            "LOG",
            "connection received: host=10.1.2.3 port=51234",
            "connection_received",
        ),
        (
            "LOG",
            "connection authorized: user=app database=shop application_name=psql",
            "connection_authorized",
        ),
        (
            "FATAL",
            "no pg_hba.conf entry for host \"10.1.2.3\", user \"app\", database \"shop\", no encryption",
            "no_hba_entry",
        ),
        (
            "FATAL",
            "sorry, too many clients already",
            "too_many_clients",
        ),
        (
            "ERROR",
            "canceling statement due to lock timeout",
            "lock_timeout",
        ),
        (
            "ERROR",
            "canceling statement due to statement timeout",
            "statement_timeout",
        ),
        (
            "LOG",
            "temporary file: path \"base/pgsql_tmp/pgsql_tmp123.0\", size 1048576",
            "temp_file",
        ),
        ("LOG", "redo starts at 0/1A2B3C8", "redo_starts"),
        (
            "LOG",
            "started streaming WAL from primary at 0/3000000 on timeline 1",
            "streaming_started",
        ),
        ("LOG", "entering standby mode", "standby_mode"),
        (
            "LOG",
            "duration: 0.1 ms  statement: SELECT 'replication standby recovery streaming'",
            "slow_statement",
        ),
        (
            "LOG",
            "statement: SELECT 'still waiting for recovery'",
            "statement",
        ),
        ("LOG", "execute S_7: SELECT $1", "statement"),
        ("ERROR", "deadlock detected", "deadlock"),
        ("ERROR", "syntax error at or near \"SELEC\"", "syntax_error"),
    ];
    let c = Classifier::default();
    for (sev, msg, kind) in cases {
        let got = c.classify(sev, None, msg, &[]).unwrap();
        assert_eq!(got.kind, *kind, "{msg}");
    }
}

#[test]
fn kind_specific_fields_are_typed() {
    let c = one(
        "LOG",
        None,
        "checkpoint complete: wrote 3 buffers (0.0%); 0 WAL file(s) added, 0 removed, 0 recycled; write=0.101 s, sync=0.002 s, total=0.110 s; sync files=2, longest=0.001 s, average=0.001 s; distance=12 kB, estimate=300 kB",
    );
    assert_eq!(c.kind, "checkpoint_complete");
    let f = &c.fields;
    assert_eq!(
        (f.buffers, f.write_ms, f.sync_ms, f.distance_kb),
        (Some(3.0), Some(101.0), Some(2.0), Some(12.0))
    );
    assert_eq!(f.duration_ms, Some(110.0));
    let c = one(
        "LOG",
        None,
        "checkpoint complete: wrote 5 buffers (0.0%); 0 WAL file(s) added, 0 removed, 1 recycled; write=0.404 s, sync=0.003 s, total=0.420 s; sync files=4, longest=0.002 s, average=0.001 s; distance=64 kB, estimate=64 kB; lsn=0/1D4F1F0, redo lsn=0/1D4F1B8",
    );
    assert_eq!(
        (c.kind, c.fields.buffers),
        ("checkpoint_complete", Some(5.0))
    );
    let c = one(
        "LOG",
        None,
        "process 42 still waiting for ShareLock on transaction 7 after 1000.123 ms",
    );
    let f = &c.fields;
    assert_eq!(
        (
            f.target_pid,
            f.lock_mode.as_deref(),
            f.lock_object.as_deref(),
            f.duration_ms
        ),
        (
            Some(42.0),
            Some("ShareLock"),
            Some("transaction 7"),
            Some(1000.123)
        )
    );
    let classifier = Classifier::default();
    let c = classifier
        .classify(
            "LOG",
            None,
            "process 42 still waiting for ShareLock on transaction 7 after 1000.123 ms",
            &["Processes holding the lock: 40, 41. Wait queue: 42.".to_owned()],
        )
        .unwrap();
    assert_eq!(c.fields.pids.as_deref(), Some("40,41"));
    let c = classifier
        .classify("ERROR", Some("40P01"), "deadlock detected", &[
            "Process 10 waits for ShareLock on transaction 5; blocked by process 11.\nProcess 11 waits for ShareLock on transaction 6; blocked by process 10.\nProcess 10: UPDATE t SET v = 'x' WHERE id = 1".to_owned(),
        ])
        .unwrap();
    assert_eq!(
        (c.kind, c.fields.pids.as_deref()),
        ("deadlock", Some("10,11"))
    );
    let c = classifier
        .classify(
            "LOG",
            None,
            "server process (PID 4242) was terminated by signal 9: Killed",
            &["Failed process was running: SELECT * FROM t WHERE secret = 'hunter2'".to_owned()],
        )
        .unwrap();
    let f = &c.fields;
    assert_eq!((f.signal, f.target_pid), (Some(9.0), Some(4242.0)));
    assert_eq!(
        f.statement.as_deref(),
        Some("SELECT * FROM t WHERE secret = '?'")
    );
    let c = classifier
        .classify("FATAL", Some("28P01"), "password authentication failed for user \"app\"",
            &["Connection matched pg_hba.conf line 99: \"host all all 127.0.0.1/32 scram-sha-256\"".to_owned()])
        .unwrap();
    assert_eq!(c.fields.auth_method.as_deref(), Some("scram-sha-256"));
    let c = one(
        "LOG",
        None,
        "temporary file: path \"base/pgsql_tmp/pgsql_tmp9.0\", size 1048576",
    );
    assert_eq!(
        (c.fields.temp_bytes, c.fields.file.as_deref()),
        (Some(1048576.0), Some("base/pgsql_tmp/pgsql_tmp9.0"))
    );
    let c = one(
        "ERROR",
        None,
        "replication slot \"standby_1\" does not exist",
    );
    assert_eq!(c.fields.slot.as_deref(), Some("standby_1"));
    let c = classifier
        .classify("LOG", None, "archive command failed with exit code 1",
            &["The failed archive command was: cp pg_wal/000000010000000000000003 /nope/000000010000000000000003".to_owned()])
        .unwrap();
    assert_eq!(c.fields.file.as_deref(), Some("000000010000000000000003"));
}

#[test]
fn unknown_messages_keep_their_sqlstate_class_and_group_by_template() {
    let a = one(
        "ERROR",
        Some("22023"),
        "cannot frobnicate widget \"abc\" at level 5",
    );
    let b = one(
        "ERROR",
        Some("22023"),
        "cannot frobnicate widget \"xyz\" at level 17",
    );
    assert_eq!(
        (a.kind, a.category),
        ("data_exception", Category::Application)
    );
    assert_eq!(a.template, b.template);
    assert_eq!(a.message, "cannot frobnicate widget \"?\" at level ?");
    let c = one("ERROR", None, "something new happened");
    assert_eq!((c.kind, c.category), ("other_error", Category::Other));
    let d = one("LOG", None, "logical replication launcher started");
    assert_eq!(d.kind, "other");
    assert!(
        Classifier::default()
            .classify("DEBUG", None, "x", &[])
            .is_none()
    );
    // A known kind's id is the same for every value.
    assert_eq!(
        one("ERROR", None, "relation \"a\" does not exist").template,
        one("ERROR", None, "relation \"b\" does not exist").template
    );
}

#[test]
fn values_in_messages_are_redacted_by_class() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "ERROR",
            "invalid input syntax for type integer: \"5x\"",
            "invalid input syntax for type integer: \"?\"",
        ),
        (
            "ERROR",
            "value \"99999999999\" is out of range for type integer",
            "value \"?\" is out of range for type integer",
        ),
        (
            "ERROR",
            "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28",
            "invalid byte sequence for encoding \"UTF8\": ?",
        ),
        (
            "ERROR",
            "syntax error at or near \"hunter2\"",
            "syntax error at or near \"?\"",
        ),
        (
            "LOG",
            "could not accept SSL connection: \u{1}\u{3}secret-bytes",
            "could not accept SSL connection: ?",
        ),
        (
            "ERROR",
            "invalid value for parameter \"work_mem\": \"lots\"",
            "invalid value for parameter \"work_mem\": \"?\"",
        ),
        (
            "LOG",
            "duration: 1.0 ms  statement: UPDATE u SET pw = 'hunter2' WHERE id = 7",
            "duration: 1.0 ms  statement: UPDATE u SET pw = '?' WHERE id = ?",
        ),
        (
            "LOG",
            "statement: SELECT 'standby', 42",
            "statement: SELECT '?', ?",
        ),
    ];
    for (sev, msg, want) in cases {
        assert_eq!(one(sev, None, msg).message, *want, "{msg}");
    }
    // Each class can be let through.
    let mut open = Redaction::default();
    open.set(RedactClass::TableData, false);
    let c = Classifier::new(&English, open)
        .classify(
            "ERROR",
            None,
            "invalid input syntax for type integer: \"5x\"",
            &[],
        )
        .unwrap();
    assert_eq!(c.message, "invalid input syntax for type integer: \"5x\"");
    let mut open = Redaction::default();
    open.set(RedactClass::StatementText, false);
    let c = Classifier::new(&English, open)
        .classify("LOG", None, "statement: SELECT 42", &[])
        .unwrap();
    assert_eq!(c.message, "statement: SELECT 42");
}

#[test]
fn auto_explain_plans_are_events_with_their_query_id_and_no_literals() {
    let json = "duration: 12.345 ms  plan:\n{\n  \"Query Text\": \"SELECT * FROM t WHERE a = 'secret' AND b = 4242\",\n  \"Query Identifier\": -771234,\n  \"Plan\": {\n    \"Node Type\": \"Seq Scan\",\n    \"Relation Name\": \"t\",\n    \"Filter\": \"((a = 'secret'::text) AND (b = 4242))\"\n  }\n}";
    let c = one("LOG", None, json);
    assert_eq!((c.kind, c.category), ("plan", Category::Statement));
    assert_eq!(c.fields.duration_ms, Some(12.345));
    assert_eq!(c.fields.query_id.as_deref(), Some("-771234"));
    assert!(
        !c.message.contains("secret") && !c.message.contains("4242"),
        "{}",
        c.message
    );
    let text = "duration: 3.000 ms  plan:\nQuery Text: SELECT 'secret'\nResult  (cost=0.00..0.01 rows=1 width=32)";
    let c = one("LOG", None, text);
    assert_eq!(c.kind, "plan");
    assert!(
        !c.message.contains("secret") && c.message.contains("Result  (cost=0.00..0.01"),
        "{}",
        c.message
    );
}

/// A German catalog, as the `.mo` file of PostgreSQL 15 has these messages.
struct German;

impl Translations for German {
    fn forms(&self, msgid: &str, _: Option<&str>) -> Vec<String> {
        let t = match msgid {
            "%s (PID %d) was terminated by signal %d: %s" => {
                "%s (PID %d) wurde von Signal %d beendet: %s"
            }
            "process %d still waiting for %s on %s after %ld.%03d ms" => {
                "Prozess %d wartet immer noch auf %s-Sperre auf %s nach %ld,%03d ms"
            }
            "invalid input syntax for type %s: \"%s\"" => {
                "ungültige Eingabesyntax für Typ %s: »%s«"
            }
            "duration: %s ms  statement: %s" => "Dauer: %s ms  Anweisung: %s",
            "ERROR" => "FEHLER",
            "WARNING" => "WARNUNG",
            "STATEMENT:  " => "ANWEISUNG:  ",
            "DETAIL:  " => "DETAIL:  ",
            "Failed process was running: %s" => "Der fehlgeschlagene Prozess führte aus: %s",
            _ => return Vec::new(),
        };
        vec![t.to_owned()]
    }
}

#[test]
fn a_german_log_is_classified_like_its_english_original() {
    let classifier = Arc::new(Classifier::new(&German, Redaction::default()));
    let log = "\
2026-11-21 07:00:00.100 UTC [10] FEHLER:  ungültige Eingabesyntax für Typ integer: »5x«
2026-11-21 07:00:00.100 UTC [10] ANWEISUNG:  SELECT '5x'::int
2026-11-21 07:00:01.000 UTC [11] LOG:  Prozess 11 wartet immer noch auf ShareLock-Sperre auf Transaktion 9 nach 1000,123 ms
2026-11-21 07:00:02.000 UTC [1] LOG:  Serverprozess (PID 12) wurde von Signal 9 beendet: Killed
2026-11-21 07:00:02.000 UTC [1] DETAIL:  Der fehlgeschlagene Prozess führte aus: SELECT 'geheim'
2026-11-21 07:00:03.000 UTC [13] LOG:  Dauer: 2.5 ms  Anweisung: SELECT 'geheim'
";
    let mut p = LogParser::with(LogFormat::Stderr, "%m [%p] ", classifier, Zones::default());
    let e = events(&mut p, log);
    let kinds: Vec<(&str, &str)> = e.iter().map(|e| (e.severity.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            ("ERROR", "invalid_input_syntax"),
            ("LOG", "lock_waiting"),
            ("LOG", "process_crashed"),
            ("LOG", "slow_statement"),
        ]
    );
    assert_eq!(e[0].message, "ungültige Eingabesyntax für Typ integer: »?«");
    assert_eq!(e[1].fields.duration_ms, Some(1000.123));
    assert_eq!(e[2].fields.statement.as_deref(), Some("SELECT '?'"));
    assert!(!format!("{e:?}").contains("geheim") && !format!("{e:?}").contains("5x"));
    // The same template id as the English message.
    let english = one(
        "ERROR",
        None,
        "invalid input syntax for type integer: \"7\"",
    );
    assert_eq!(e[0].template, english.template);
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
    assert_eq!(e[0].kind, "slow_statement");
    assert_eq!(
        e[0].message,
        "duration: 3.000 ms  statement: SELECT '?',\n  ?"
    );
    assert_eq!(e[0].application_name.as_deref(), Some("psql"));
    assert_eq!(e[1].sqlstate.as_deref(), Some("42P01"));
    assert_eq!(e[1].kind, "undefined_table");
    assert_eq!(e[1].message, "relation \"nope\" does not exist");
}

#[test]
fn a_csvlog_record_cut_at_the_line_limit_loses_no_later_record() {
    // The first record's message was cut inside its quoted field (the tailer's line
    // limit): its closing quote never comes.
    let log = "\
2026-11-21 07:00:00.100 UTC,\"app\",\"shop\",10,\"[local]\",1.1,1,\"SELECT\",2026-11-21 06:59:00 UTC,3/4,0,LOG,00000,\"duration: 3.000 ms  statement: SELECT 'aaaaaaaa
2026-11-21 07:00:01.000 UTC,\"app\",\"shop\",11,\"[local]\",1.2,1,\"SELECT\",2026-11-21 06:59:00 UTC,3/5,0,ERROR,42P01,\"relation \"\"nope\"\" does not exist\",,,,,,,,,\"psql\",client backend,,0
2026-11-21 07:00:02.000 UTC,\"app\",\"shop\",12,\"[local]\",1.2,1,\"SELECT\",2026-11-21 06:59:00 UTC,3/5,0,LOG,00000,\"database system is ready to accept connections\",,,,,,,,,\"\",postmaster,,0
";
    let mut p = LogParser::new(LogFormat::Csv, "");
    let e = events(&mut p, log);
    let kinds: Vec<&str> = e.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec!["slow_statement", "undefined_table", "server_ready"],
        "{e:#?}"
    );
    assert!(!e[0].message.contains("aaaa"));
}

#[test]
fn jsonlog_lines_are_read() {
    let line = r#"{"timestamp":"2026-11-21 07:00:00.100 UTC","user":"app","dbname":"shop","pid":10,"error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \"app\"","detail":"Connection matched pg_hba.conf line 3: \"host all all all md5\"","application_name":"psql","backend_type":"client backend","query_id":0}"#;
    let mut p = LogParser::new(LogFormat::Json, "");
    let e = events(&mut p, line);
    assert_eq!(
        (e[0].category, e[0].kind),
        (Category::Connection, "password_failed")
    );
    assert_eq!(e[0].sqlstate.as_deref(), Some("28P01"));
    assert_eq!(e[0].fields.auth_method.as_deref(), Some("md5"));
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
        "unknown abbreviation"
    );
    let zones = Zones::new([("CET".to_owned(), 3600), ("MSK".to_owned(), 3 * 3600)]);
    assert_eq!(parse_time_in("2026-11-21 08:00:00 CET", &zones), Some(t));
    assert_eq!(
        parse_time_in("2026-11-21 10:00:00.000 MSK", &zones),
        Some(t)
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
    let e = p.flush();
    assert!(e[0].message.len() <= MAX_MESSAGE_BYTES);
    let mut csv = LogParser::new(LogFormat::Csv, "");
    csv.push("2026-11-21 07:00:00.100 UTC,,,1,,,,,,,,LOG,00000,\"start");
    for _ in 0..1_000 {
        csv.push(&chunk);
    }
    assert!(csv.record.len() < 5 * MAX_MESSAGE_BYTES);
}

#[test]
fn the_kinds_table_is_large_sound_and_unique() {
    use std::collections::BTreeSet;
    let names: BTreeSet<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(names.len(), KINDS.len(), "duplicate kind names");
    assert!(KINDS.len() >= 120, "{} kinds", KINDS.len());
    let categories: BTreeSet<Category> = KINDS.iter().map(|k| k.category).collect();
    assert!(categories.len() >= 9, "{categories:?}");
    for k in KINDS {
        for t in k.templates {
            let compiled = Template::compile(t.msgid).unwrap_or_else(|| panic!("{}", t.msgid));
            assert_eq!(compiled.arity(), t.args.len(), "roles of {:?}", t.msgid);
        }
    }
    for t in kinds::CONTINUATIONS {
        assert_eq!(
            Template::compile(t.msgid).unwrap().arity(),
            t.args.len(),
            "{}",
            t.msgid
        );
    }
}

/// SQL with literals from the generator: strings and numbers that never occur in SQL
/// keywords or in the messages' own words.
fn statement() -> impl Strategy<Value = (String, Vec<String>)> {
    let string = "[a-z]{3,8}[0-9]{2}[a-z]{2}".prop_map(|s| format!("zq{s}"));
    let number = (100_000u64..999_999_999u64).prop_map(|n| format!("{n}7"));
    (string.clone(), number, string, "[a-z_]{1,8}").prop_map(|(s, n, s2, col)| {
        let sql = format!("SELECT {col} FROM t WHERE {col} = '{s}' AND id = {n} OR x = $${s2}$$");
        (sql, vec![s, n, s2])
    })
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

    #[test]
    fn no_literal_from_a_statement_or_value_reaches_a_sent_event(
        (sql, secrets) in statement(),
        value in "[a-z]{4}[0-9]{3}[a-z]{3}".prop_map(|s| format!("qz{s}")),
    ) {
        let prefix = "2026-11-21 07:00:00.100 UTC [10] ";
        let log = [
            format!("{prefix}LOG:  duration: 1.5 ms  statement: {sql}"),
            format!("{prefix}LOG:  statement: {sql}"),
            format!("{prefix}LOG:  execute S_1: {sql}"),
            format!("{prefix}LOG:  duration: 2.0 ms  plan:\n\tQuery Text: {sql}\n\tSeq Scan on t  (cost=0.00..1.00 rows=1 width=4)\n\t  Filter: (x = '{value}'::text)"),
            format!("{prefix}LOG:  duration: 2.0 ms  plan:\n\t{{\"Query Text\": {}, \"Query Parameters\": \"$1 = '{value}'\", \"Plan\": {{\"Node Type\": \"Result\", \"Output\": [\"'{value}'::text\"]}}}}", serde_json::Value::String(sql.clone())),
            format!("{prefix}ERROR:  invalid input syntax for type integer: \"{value}\""),
            format!("{prefix}ERROR:  value \"{value}\" is out of range for type bigint"),
            format!("{prefix}ERROR:  duplicate key value violates unique constraint \"k\""),
            format!("{prefix}DETAIL:  Key (id)=({value}) already exists."),
            format!("{prefix}ERROR:  some message never seen before with \"{value}\" and '{value}'"),
            format!("{prefix}LOG:  server process (PID 9) was terminated by signal 9: Killed"),
            format!("{prefix}DETAIL:  Failed process was running: {sql}"),
            format!("{prefix}ERROR:  syntax error at or near \"{value}\""),
            format!("{prefix}STATEMENT:  {sql}"),
        ].join("\n");
        let mut p = LogParser::new(LogFormat::Stderr, "%m [%p] ");
        let sent = events(&mut p, &log);
        prop_assert!(sent.len() >= 10, "{sent:#?}");
        let rows = format!("{:?}", sent.iter().map(|e| e.row(OffsetDateTime::UNIX_EPOCH)).collect::<Vec<_>>());
        for secret in secrets.iter().chain([&value]) {
            prop_assert!(!rows.contains(secret.as_str()), "{secret} leaked: {rows}");
        }
    }
}

/// The row of the kinds table in docs/log-events.md.
fn kind_row(k: &kinds::KindSpec) -> String {
    let templates: Vec<String> = k
        .templates
        .iter()
        .map(|t| {
            format!(
                "`{}`",
                t.msgid.trim_end().replace('|', "\\|").replace('\n', "\\n")
            )
        })
        .collect();
    format!(
        "| `{}` | {} | {} |",
        k.name,
        k.category.as_str(),
        templates.join("<br>")
    )
}

#[test]
fn the_documented_kind_table_matches_the_kinds() {
    let doc = include_str!("../../../docs/log-events.md");
    let missing: Vec<String> = KINDS
        .iter()
        .map(kind_row)
        .filter(|row| !doc.lines().any(|l| l == row))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/log-events.md lacks or differs on these rows:\n{}",
        missing.join("\n")
    );
}

#[test]
fn syslog_lines_with_sequence_numbers_and_split_messages_are_stitched() {
    let long = "a".repeat(850);
    let log = format!(
        "\
Nov 21 07:00:00 db1 postgres[4242]: [7-1] 2026-11-21 07:00:00.100 UTC [4242] LOG:  duration: 2.5 ms  statement: SELECT *
Nov 21 07:00:00 db1 postgres[4242]: [7-2] #011FROM t WHERE secret = 'hunter2'
Nov 21 07:00:01 db1 postgres[4242]: [8-1] 2026-11-21 07:00:01.000 UTC [4242] ERROR:  relation \"nope\" does not exist at character 15
Nov 21 07:00:01 db1 postgres[4242]: [8-2] 2026-11-21 07:00:01.000 UTC [4242] STATEMENT:  SELECT * FROM nope WHERE s = 'hunter2'
2026-11-21T07:00:02.000000+00:00 db1 postgres[4243]: [9-1] 2026-11-21 07:00:02.000 UTC [4243] LOG:  duration: 1.0 ms  statement: SELECT 1 AS {long}
2026-11-21T07:00:02.000000+00:00 db1 postgres[4243]: [9-2]  , 'hunter2' AS tail
Nov 21 07:00:03 db1 postgres[17]: [10-1] 2026-11-21 07:00:03.000 UTC [17] LOG:  checkpoint starting: time
"
    );
    let mut p = LogParser::new(LogFormat::Syslog, "%m [%p] ");
    let e = events(&mut p, &log);
    let kinds: Vec<&str> = e.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            "slow_statement",
            "undefined_table",
            "slow_statement",
            "checkpoint_starting"
        ],
        "{e:#?}"
    );
    assert_eq!(
        e[0].message,
        "duration: 2.5 ms  statement: SELECT *\nFROM t WHERE secret = '?'"
    );
    assert_eq!(e[0].pid, Some(4242));
    // A line the server cut at 900 bytes is joined back without a line break.
    assert!(
        e[2].message.ends_with(&format!("{long} , '?' AS tail")),
        "{}",
        e[2].message
    );
    assert!(!format!("{e:?}").contains("hunter2"));
    // Without a time in the prefix, the RFC 3339 header gives it; without a pid, the tag.
    let mut p = LogParser::new(LogFormat::Syslog, "");
    let e = events(
        &mut p,
        "2026-11-21T07:00:02.500000+00:00 db1 postgres[77]: [3-1] LOG:  database system is ready to accept connections",
    );
    assert_eq!((e[0].kind, e[0].pid), ("server_ready", Some(77)));
    assert_eq!(
        e[0].time,
        Some(time::macros::datetime!(2026-11-21 07:00:02.5 UTC))
    );
}

#[test]
fn pgbouncer_lines_are_events_of_their_own_kinds() {
    let log = "\
2026-11-21 07:00:00.123 UTC [4242] LOG C-0x55d3c5b0f0a0: shop/app@127.0.0.1:54321 login attempt: db=shop user=app tls=no
2026-11-21 07:00:01.000 UTC [4242] LOG stats: 0 xacts/s, 0 queries/s, in 0 B/s, out 0 B/s, xact 0 us, query 0 us, wait 0 us
2026-11-21 07:00:02.000 UTC [4242] WARNING C-0x55d3c5b0f0a0: nope/app@127.0.0.1:54322 pooler error: no such database: nope
2026-11-21 07:00:03.000 UTC [4242] LOG S-0x55d3c5b0f0a1: shop/app@127.0.0.1:5432 new connection to server (from 127.0.0.1:43210)
2026-11-21 07:00:04.000 UTC [4242] LOG C-0x55d3c5b0f0a0: shop/app@127.0.0.1:54321 closing because: client close request (age=1s)
2026-11-21 07:00:05.000 UTC 4242 LOG got SIGINT, shutting down
";
    let mut p = LogParser::new(LogFormat::Pgbouncer, "");
    let e = events(&mut p, log);
    let kinds: Vec<&str> = e.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            "pgbouncer_login",
            "pgbouncer_stats",
            "pgbouncer_pooler_error",
            "pgbouncer_server_connection",
            "pgbouncer_closing",
            "pgbouncer_shutdown",
        ]
    );
    assert!(
        e.iter()
            .all(|e| e.category == Category::Pooler && e.time.is_some())
    );
    assert_eq!(
        (e[0].datname.as_deref(), e[0].username.as_deref(), e[0].pid),
        (Some("shop"), Some("app"), Some(4242))
    );
    assert_eq!(e[2].severity, "WARNING");
}

#[test]
fn latency_quantiles_group_a_statement_whatever_its_literals() {
    let mut window = LatencyWindow::default();
    let mut p = LogParser::new(LogFormat::Stderr, "%m [%p] %q%u@%d ");
    for i in 1..=100 {
        let line = format!(
            "2026-11-21 07:00:00.100 UTC [10] app@shop LOG:  duration: {i}.0 ms  statement: SELECT * FROM t WHERE id = {i}"
        );
        if let Some(e) = p.push(&line) {
            window.observe("main", &e);
        }
    }
    for e in p.flush() {
        window.observe("main", &e);
    }
    let rows = window.take(time::macros::datetime!(2026-11-21 07:01:00 UTC));
    let rows = &rows["main"];
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row[1], "shop");
    assert!(row[2].as_str().unwrap().starts_with("sql:"));
    assert_eq!(row[3], 100);
    let p50 = row[4].as_f64().unwrap();
    assert!((50.0..=51.5).contains(&p50), "{p50}");
    assert_eq!(row[7].as_f64(), Some(100.0));
    assert!(window.is_empty());
}

#[test]
fn a_jsonlog_record_cut_at_the_line_limit_is_read_as_far_as_it_goes() {
    let cut = r#"{"timestamp":"2026-11-21 07:00:00.100 UTC","user":"app","dbname":"shop","pid":10,"error_severity":"LOG","state_code":"00000","message":"duration: 3.000 ms  statement: SELECT 'aaaaaaaa"#;
    let cut_between = r#"{"timestamp":"2026-11-21 07:00:00.200 UTC","user":"app","dbname":"shop","pid":11,"error_severity":"ERROR","state_code":"42P01","message":"relation \"nope\" does not exist","appl"#;
    let whole = r#"{"timestamp":"2026-11-21 07:00:01.000 UTC","pid":12,"error_severity":"LOG","message":"database system is ready to accept connections"}"#;
    let mut p = LogParser::new(LogFormat::Json, "");
    let e = events(&mut p, &[cut, cut_between, whole].join("\n"));
    let kinds: Vec<&str> = e.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec!["slow_statement", "undefined_table", "server_ready"],
        "{e:#?}"
    );
    assert!(!e[0].message.contains("aaaa"), "{}", e[0].message);
}
