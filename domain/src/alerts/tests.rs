use super::eval::{Data, Observation, Row, ServerInfo, evaluate, need, servers_in_scope};
use super::state::{Phase, TransitionKind, advance, fingerprint};
use super::*;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + s).unwrap()
}

fn server(id: i64) -> ServerInfo {
    ServerInfo {
        id,
        name: format!("db{id}"),
        collector: format!("host{id}"),
        intervals: crate::config::Intervals::default(),
        collector_last_seen: Some(at(0)),
        certificate_not_after: None,
    }
}

fn one(text: &str) -> Rule {
    parse_file(text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn the_built_in_pack_validates_and_covers_a_dbas_checklist() {
    let rules = builtin::rules().unwrap_or_else(|(f, e)| panic!("{f}: {e:#?}"));
    assert!(rules.len() >= 45, "{} built-in rules", rules.len());
    for r in &rules {
        assert!(
            !r.spec.runbook.is_empty(),
            "{} has no runbook line",
            r.name()
        );
        assert!(
            !r.spec.description.is_empty(),
            "{} has no description",
            r.name()
        );
    }
    let docs = include_str!("../../../docs/alerts.md");
    let missing: Vec<String> = rules
        .iter()
        .map(doc_row)
        .filter(|row| !docs.lines().any(|l| l == row))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/alerts.md lacks or differs on these rows:\n{}",
        missing.join("\n")
    );
}

/// The row of the built-in rule table in docs/alerts.md.
fn doc_row(r: &Rule) -> String {
    use super::rule::{ConditionSpec, Function};
    let c = &r.spec.condition;
    let op = |o: &super::rule::CmpOp| {
        serde_json::to_value(o)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let when = match c {
        ConditionSpec::Metric(m) => {
            let cols = m
                .column
                .iter()
                .chain(m.numerator.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(" + ");
            let mut v = if m.denominator.is_empty() {
                format!("{}.{cols}", m.family)
            } else {
                format!("{}.{cols} ÷ ({})", m.family, m.denominator.join(" + "))
            };
            if m.function != Function::Last {
                v = format!(
                    "{}({v})",
                    serde_json::to_value(m.function).unwrap().as_str().unwrap()
                );
            }
            if let Some(b) = m.baseline {
                v = format!("{v} ÷ the same over the {b} before");
            }
            if let Some(h) = m.horizon {
                v = format!("{v} in {h}");
            }
            if !m.filter.is_empty() {
                v = format!(
                    "{v} where {}",
                    m.filter
                        .iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let crit = m
                .critical
                .map(|c| format!(" (critical {c})"))
                .unwrap_or_default();
            format!("{v} {} {}{crit}", op(&m.op), m.threshold)
        }
        ConditionSpec::Log(l) => {
            let mut what: Vec<String> = Vec::new();
            what.extend(l.categories.iter().map(|c| format!("category {c}")));
            if !l.kinds.is_empty() {
                what.push(format!("kind {}", l.kinds.join(" or ")));
            }
            what.extend(l.severities.iter().cloned());
            what.extend(
                l.sqlstate_classes
                    .iter()
                    .map(|c| format!("SQLSTATE class {c}")),
            );
            what.extend(l.filter.iter().map(|f| f.to_string()));
            let crit = l
                .critical
                .map(|c| format!(" (critical {c})"))
                .unwrap_or_default();
            format!(
                "log events {} in {} {} {}{crit}",
                what.join(", "),
                l.window,
                op(&l.op),
                l.threshold
            )
        }
        ConditionSpec::Absence(a) => format!("no {} for {} intervals", a.of, a.intervals),
        ConditionSpec::Sql(s) => format!("SQL {} {}", op(&s.op), s.threshold),
        ConditionSpec::Certificate(c) => format!("certificate expires within {}", c.within),
    };
    let for_ = if r.spec.for_.as_seconds() > 0 {
        format!(", for {}", r.spec.for_)
    } else {
        String::new()
    };
    format!(
        "| `{}` | {} | {}{for_} | {} {} |",
        r.name(),
        r.spec.severity.as_str(),
        when.replace('|', "\\|"),
        r.spec.description.replace('|', "\\|"),
        r.spec.runbook.replace('|', "\\|"),
    )
}

#[test]
fn rule_files_report_each_problem_at_its_line() {
    let text = r#"
[[rule]]
name = "ok_rule"
severity = "warning"
summary = "fine"
[rule.condition]
type = "metric"
family = "pg_activity"
column = "sessions"
op = ">"
threshold = 1

[[rule]]
name = "bad_rule"
severity = "warning"
for = "5 minutes"
summary = "x"
[rule.condition]
type = "metric"
family = "pg_nope"
column = "sessions"
op = ">"
threshold = 1
"#;
    let errors = parse_file(text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 16, "{errors:?}");
    assert!(errors[0].message.contains("not a duration"), "{errors:?}");

    let text = text.replace("for = \"5 minutes\"\n", "");
    let errors = parse_file(&text).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, 19, "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("unknown metric family \"pg_nope\"")
    );
    assert!(errors[0].rule.contains("bad_rule"));
    assert_eq!(errors[1].line, 20, "{errors:?}");

    let dup = format!(
        "{}{}",
        &text[..text.find("[[rule]]\nname = \"bad_rule\"").unwrap()],
        &text[1..text.find("\n[[rule]]\nname = \"bad_rule\"").unwrap()]
    );
    let errors = parse_file(&dup).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("already in the file")),
        "{errors:?}"
    );
}

#[test]
fn invalid_rules_are_refused_with_the_field_named() {
    let base = r#"[[rule]]
name = "r"
severity = "warning"
summary = "{{ server }}"
[rule.condition]
type = "metric"
family = "pg_database"
"#;
    for (tail, field, says) in [
        (
            "column = \"nope\"\nop = \">\"\nthreshold = 1\n",
            "condition.column",
            "no numeric column",
        ),
        (
            "column = \"deadlocks\"\nfunction = \"max\"\nop = \">\"\nthreshold = 1\n",
            "condition.function",
            "counter",
        ),
        (
            "column = \"size_bytes\"\nfunction = \"predict\"\nop = \">\"\nthreshold = 1\n",
            "condition.horizon",
            "horizon",
        ),
        (
            "column = \"size_bytes\"\nby = [\"datname\"]\nop = \">\"\nthreshold = 1\n",
            "condition.by",
            "aggregate",
        ),
        (
            "column = \"size_bytes\"\nop = \">\"\nthreshold = 1\ncritical = 0\n",
            "condition.critical",
            "beyond",
        ),
        (
            "column = \"size_bytes\"\nwhere = [\"nolabel=x\"]\nop = \">\"\nthreshold = 1\n",
            "condition.where",
            "no label",
        ),
    ] {
        let spec: RuleFile = toml::from_str(&format!("{base}{tail}")).unwrap();
        let errors = Rule::from_spec(spec.rules[0].clone()).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.message.contains(says)),
            "{tail}: {errors:?}"
        );
    }
    let unknown_label = base.replace("{{ server }}", "{{ relname }}")
        + "column = \"size_bytes\"\nop = \">\"\nthreshold = 1\n";
    let spec: RuleFile = toml::from_str(&unknown_label).unwrap();
    let errors = Rule::from_spec(spec.rules[0].clone()).unwrap_err();
    assert_eq!(errors[0].field, "summary", "{errors:?}");
}

#[test]
fn rules_round_trip_through_a_rule_file() {
    let rules: Vec<RuleSpec> = builtin::rules()
        .unwrap()
        .into_iter()
        .map(|r| r.spec)
        .collect();
    let text = to_file(&rules);
    let back: Vec<RuleSpec> = parse_file(&text)
        .unwrap()
        .into_iter()
        .map(|r| r.spec)
        .collect();
    assert_eq!(back, rules);
}

fn row(server: i64, t: i64, labels: &[&str], values: &[f64]) -> Row {
    Row {
        server_id: server,
        time: at(t),
        labels: labels.iter().map(|l| Some((*l).to_owned())).collect(),
        values: values.iter().map(|v| Some(*v)).collect(),
    }
}

#[test]
fn counter_ratios_use_reset_aware_increases_over_the_window() {
    let rule = one(r#"[[rule]]
name = "hit"
severity = "warning"
summary = "{{ datname }} {{ value | percent }}"
[rule.condition]
type = "metric"
family = "pg_database"
column = "blks_hit"
denominator = ["blks_hit", "blks_read"]
function = "rate"
window = "10m"
op = "<"
threshold = 0.9
"#);
    let s = server(1);
    let servers = [&s];
    let Need::Rows(n) = need(&rule, &servers, at(600)) else {
        panic!()
    };
    // blks_hit and blks_read are read once each, in order.
    assert_eq!(
        n.columns.iter().map(|c| c.name).collect::<Vec<_>>(),
        ["blks_hit", "blks_read"]
    );
    // app: 50 hits, 50 reads per step → 50 %; a reset in the middle is not a drop.
    // ok: 99 % hits.
    let rows = vec![
        row(1, 0, &["app"], &[1000.0, 1000.0]),
        row(1, 60, &["app"], &[1050.0, 1050.0]),
        row(1, 120, &["app"], &[50.0, 50.0]),
        row(1, 180, &["app"], &[100.0, 100.0]),
        row(1, 0, &["ok"], &[0.0, 0.0]),
        row(1, 60, &["ok"], &[990.0, 10.0]),
    ];
    let got = evaluate(&rule, &servers, &Data::Rows(rows), at(600)).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].labels["datname"], "app");
    assert!((got[0].value - 0.5).abs() < 1e-9, "{got:?}");
    assert_eq!(got[0].labels["server"], "db1");
}

use super::eval::Need;

#[test]
fn predictions_fit_a_line_and_baselines_compare_with_the_past() {
    let rule = one(r#"[[rule]]
name = "full"
severity = "warning"
summary = "x"
[rule.condition]
type = "metric"
family = "disk_usage"
column = "available_bytes"
function = "predict"
window = "6h"
horizon = "24h"
op = "<="
threshold = 0
"#);
    let s = server(1);
    // Loses 1 GB an hour with 10 GB left: empty in 10 hours.
    let rows: Vec<Row> = (0..6)
        .map(|h| {
            row(
                1,
                h * 3600,
                &["/", "sda", "ext4", "other"],
                &[(16 - h) as f64 * 1e9],
            )
        })
        .collect();
    let got = evaluate(&rule, &[&s], &Data::Rows(rows.clone()), at(5 * 3600)).unwrap();
    assert_eq!(got.len(), 1);
    assert!((got[0].value - (-13e9)).abs() < 1e6, "{got:?}");
    // A flat disk is never predicted full.
    let flat: Vec<Row> = (0..6)
        .map(|h| row(1, h * 3600, &["/", "sda", "ext4", "other"], &[5e9]))
        .collect();
    assert!(
        evaluate(&rule, &[&s], &Data::Rows(flat), at(5 * 3600))
            .unwrap()
            .is_empty()
    );

    let regressed = one(r#"[[rule]]
name = "slow"
severity = "warning"
summary = "x"
[rule.condition]
type = "metric"
family = "pg_statement"
column = "exec_time_ms"
denominator = ["calls"]
function = "sum"
window = "1h"
baseline = "1d"
op = ">"
threshold = 2
"#);
    let mut rows = Vec::new();
    for i in 0..24 {
        // 1 ms per call the day before, then 5 ms per call.
        rows.push(row(1, i * 3600, &["app", "u", "42"], &[100.0, 100.0]));
    }
    rows.push(row(
        1,
        24 * 3600 + 600,
        &["app", "u", "42"],
        &[500.0, 100.0],
    ));
    let Some(Observation { value, .. }) =
        evaluate(&regressed, &[&s], &Data::Rows(rows), at(25 * 3600))
            .unwrap()
            .into_iter()
            .next()
    else {
        panic!("no regression found")
    };
    assert!((value - 5.0).abs() < 1e-9, "{value}");
}

#[test]
fn absence_fires_for_a_silent_family_only_while_the_agent_itself_checks_in() {
    let rule = one(r#"[[rule]]
name = "gone"
severity = "critical"
summary = "{{ server }} {{ family }}"
[rule.condition]
type = "absence"
of = "pg_database"
intervals = 3
"#);
    let mut s = server(1);
    s.collector_last_seen = Some(at(1000));
    let last = BTreeMap::from([(1, at(1000 - 200))]);
    // 200 s silent < 3 × 60 s? No: 200 > 180.
    let got = evaluate(&rule, &[&s], &Data::LastSeen(last.clone()), at(1000)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].labels["family"], "pg_database");
    // The agent is silent too: only agent_silent speaks.
    s.collector_last_seen = Some(at(0));
    assert!(
        evaluate(&rule, &[&s], &Data::LastSeen(last), at(1000))
            .unwrap()
            .is_empty()
    );
    // Never seen: nothing to miss.
    assert!(
        evaluate(&rule, &[&s], &Data::LastSeen(BTreeMap::new()), at(1000))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn scope_matchers_and_second_thresholds_pick_servers_and_severity() {
    let rule = one(r#"[[rule]]
name = "idle"
severity = "warning"
summary = "{{ datname }}"
scope = ["server=~db[12]", "datname!=postgres"]
[rule.condition]
type = "metric"
family = "pg_activity"
column = "longest_idle_in_xact_seconds"
aggregate = "max"
by = ["datname"]
op = ">"
threshold = 300
critical = 1800
"#);
    let all = [server(1), server(2), server(3)];
    let scoped = servers_in_scope(&rule, &all);
    assert_eq!(scoped.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2]);
    let rows = vec![
        row(1, 0, &["app", "idle in transaction", ""], &[400.0]),
        row(1, 0, &["app", "active", ""], &[0.0]),
        row(2, 0, &["app", "idle in transaction", ""], &[2000.0]),
        row(2, 0, &["postgres", "idle in transaction", ""], &[9000.0]),
    ];
    let got = evaluate(&rule, &scoped, &Data::Rows(rows), at(60)).unwrap();
    let by_server: BTreeMap<i64, Severity> = got
        .iter()
        .map(|o| (o.server_id.unwrap(), o.severity))
        .collect();
    assert_eq!(
        by_server,
        BTreeMap::from([(1, Severity::Warning), (2, Severity::Critical)])
    );
}

#[test]
fn an_alert_waits_for_its_for_duration_fires_once_and_holds_its_minimum_firing_time() {
    let rule = one(r#"[[rule]]
name = "r"
severity = "warning"
for = "2m"
min_firing = "5m"
summary = "{{ value }}"
[rule.condition]
type = "metric"
family = "pg_activity"
column = "sessions"
op = ">"
threshold = 1
"#);
    let obs = Observation {
        server_id: Some(1),
        labels: BTreeMap::from([("server".to_owned(), "db1".to_owned())]),
        value: 5.0,
        severity: Severity::Warning,
        threshold: 1.0,
    };
    let fp = fingerprint("r", &obs.labels);
    let mut state = None;
    let mut fired = Vec::new();
    // Holds 0..3 min, gone 3..4, back 4..5, gone from 5 on.
    for minute in 0..15 {
        let holds = minute < 3 || minute == 4;
        let step = advance(
            state.take(),
            holds.then_some(&obs),
            &rule,
            &fp,
            at(minute * 60),
        );
        if let Some(t) = step.transition {
            fired.push((minute, t));
        }
        state = step.state;
    }
    assert_eq!(
        fired,
        vec![(2, TransitionKind::Firing), (7, TransitionKind::Resolved)],
        "fires after `for`, stays firing through the flap, resolves after min_firing"
    );
    assert_eq!(state.unwrap().phase, Phase::Resolved);

    // A pending alert whose condition clears is forgotten without a word.
    let step = advance(None, Some(&obs), &rule, &fp, at(0));
    assert_eq!(step.state.as_ref().unwrap().phase, Phase::Pending);
    let step = advance(step.state, None, &rule, &fp, at(60));
    assert_eq!(
        step,
        super::state::Advance {
            state: None,
            transition: None
        }
    );
    let _ = Duration::ZERO;
}

#[test]
fn a_rule_runs_once_per_collection_interval_of_its_family_at_a_phase_of_its_own() {
    use super::eval::{cadence, due};
    let rules = builtin::rules().unwrap();
    let by_name = |n: &str| rules.iter().find(|r| r.name() == n).unwrap();
    let server = |statements: u32| ServerInfo {
        id: 1,
        name: "main".into(),
        collector: "db1".into(),
        intervals: crate::config::Intervals {
            statements,
            ..Default::default()
        },
        collector_last_seen: None,
        certificate_not_after: None,
    };
    let (slow, fast) = (server(300), server(60));
    let regressed = by_name("pg_statement_regressed");
    assert_eq!(cadence(regressed, &[&slow]), Some(Span::seconds(300)));
    assert_eq!(
        cadence(regressed, &[&slow, &fast]),
        Some(Span::seconds(60)),
        "the fastest server sets the pace"
    );
    assert_eq!(cadence(by_name("pg_log_deadlock"), &[&slow]), None);
    assert_eq!(cadence(by_name("agent_silent"), &[&slow]), None);

    // Evaluated every 15 s, a 300 s rule runs once in each 300 s, and rules spread.
    let start = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
    let five = Some(Span::seconds(300));
    let mut firsts = std::collections::BTreeSet::new();
    for name in ["a", "b", "c", "d", "e", "f"] {
        let mut last = None;
        let mut runs = Vec::new();
        for i in 0..80 {
            let now = start + Duration::seconds(15 * i);
            if due(name, five, last, now) {
                runs.push(i);
                last = Some(now);
            }
        }
        assert_eq!(runs[0], 0, "a rule never run is due");
        let gaps: Vec<i64> = runs.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g == 20), "{name}: {runs:?}");
        firsts.insert(runs[1]);
    }
    assert!(firsts.len() > 1, "every rule in the same cycle: {firsts:?}");
    assert!(
        due("a", None, Some(start), start),
        "no cadence: every cycle"
    );
}
