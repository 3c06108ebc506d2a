//! `pganalytics-server rules check|test`: rule files checked and tested without a server,
//! in the manner of `promtool check rules` and `promtool test rules`.

use pganalytics_adapters::memory::sandbox::RuleSandbox;
use pganalytics_domain::alerts::state::{AlertState, Phase};
use pganalytics_domain::alerts::testfile::{self, ExpectedState, RuleTest, TestFile};
use pganalytics_domain::alerts::{Rule, parse_file};
use pganalytics_ports::store::AlertRuleStore;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Checks rule files; every problem goes to stderr as `FILE:LINE:COLUMN: …`.
/// Returns the number of problems.
pub fn check(files: &[PathBuf]) -> usize {
    let mut problems = 0;
    for f in files {
        match load(f) {
            Ok(rules) => eprintln!("{}: {} rules, all valid", f.display(), rules.len()),
            Err(lines) => {
                problems += lines.len();
                for l in lines {
                    eprintln!("{l}");
                }
            }
        }
    }
    problems
}

fn load(f: &Path) -> Result<Vec<Rule>, Vec<String>> {
    let text = std::fs::read_to_string(f).map_err(|e| vec![format!("{}: {e}", f.display())])?;
    parse_file(&text).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                format!(
                    "{}:{}:{}: {}{}",
                    f.display(),
                    e.line,
                    e.column,
                    e.rule,
                    e.message
                )
            })
            .collect()
    })
}

/// Runs rule test files; returns the number of failed tests (problems in a file count too).
pub async fn test(files: &[PathBuf]) -> usize {
    let mut failed = 0;
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed += 1;
                continue;
            }
        };
        let file: TestFile = match toml::from_str(&text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {}", f.display(), e.message().trim());
                failed += 1;
                continue;
            }
        };
        let dir = f.parent().unwrap_or(Path::new("."));
        let mut rules = Vec::new();
        for r in &file.rule_files {
            match load(&dir.join(r)) {
                Ok(mut list) => rules.append(&mut list),
                Err(lines) => {
                    failed += 1;
                    lines.iter().for_each(|l| eprintln!("{l}"));
                }
            }
        }
        for t in &file.tests {
            match run_test(&file, t, &rules).await {
                Ok(()) => eprintln!("{}: {}: ok", f.display(), t.name),
                Err(problems) => {
                    failed += 1;
                    for p in problems {
                        eprintln!("{}: {}: {p}", f.display(), t.name);
                    }
                }
            }
        }
    }
    failed
}

async fn sandbox(rules: &[Rule], origin: OffsetDateTime) -> Result<RuleSandbox, String> {
    let s = RuleSandbox::new("rules-test", origin, origin + Duration::days(3650)).await?;
    for r in rules {
        s.add_rule(r.spec.clone(), false).await?;
    }
    Ok(s)
}

/// One test: readings pushed as they come due, rules evaluated every interval, expected
/// alerts compared at the first evaluation at or after their time.
async fn run_test(file: &TestFile, t: &RuleTest, rules: &[Rule]) -> Result<(), Vec<String>> {
    // Recent enough for ingest to accept (retention is counted from the clock).
    let origin =
        pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc() - Duration::days(1));
    let s = sandbox(rules, origin).await.map_err(|e| vec![e])?;
    let mut series = Vec::new();
    for sr in &t.series {
        let mut cols = BTreeMap::new();
        for (col, values) in &sr.values {
            cols.insert(
                col.clone(),
                testfile::expand(values).map_err(|e| vec![format!("{}.{col}: {e}", sr.family)])?,
            );
        }
        series.push((sr, cols));
    }
    let step = t.interval.as_seconds().max(1);
    let every = file.evaluation_interval.as_seconds().max(1);
    let end = t
        .alerts
        .iter()
        .map(|a| a.at.as_seconds())
        .max()
        .unwrap_or(0);
    let mut pushed = 0i64;
    let mut problems = Vec::new();
    let mut checked = vec![false; t.alerts.len()];
    let mut e = 0;
    while e <= end {
        // Every reading due by now, one batch per reading time.
        while pushed * step <= e {
            let at = origin + Duration::seconds(pushed * step);
            push(&s, &series, pushed as usize, at)
                .await
                .map_err(|m| vec![m])?;
            pushed += 1;
        }
        s.clock.set(origin + Duration::seconds(e));
        s.check_in().await.map_err(|e| vec![e])?;
        let report = s.eval.run_once().await.map_err(|e| vec![e.to_string()])?;
        if report.failed_rules > 0 {
            for r in s.store.list_rules().await.unwrap_or_default() {
                if let Some(err) = r.last_error {
                    problems.push(format!("rule {}: {err}", r.spec.name));
                }
            }
        }
        for (i, want) in t.alerts.iter().enumerate() {
            if checked[i] || want.at.as_seconds() > e {
                continue;
            }
            checked[i] = true;
            let got = s.alerts(&want.rule).await.map_err(|e| vec![e])?;
            if let Some(p) = compare(want, &got) {
                problems.push(format!("at {}: {p}", want.at));
            }
        }
        e += every;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn compare(want: &testfile::ExpectedAlert, got: &[AlertState]) -> Option<String> {
    let matching: Vec<&AlertState> = got
        .iter()
        .filter(|a| matches!(a.phase, Phase::Pending | Phase::Firing))
        .filter(|a| want.labels.iter().all(|(k, v)| a.labels.get(k) == Some(v)))
        .collect();
    let shown = || {
        matching
            .iter()
            .map(|a| {
                format!(
                    "{} {} {:?}",
                    a.phase.as_str(),
                    a.severity.as_str(),
                    a.labels
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let wanted = match want.state {
        ExpectedState::None => {
            return (!matching.is_empty()).then(|| {
                format!(
                    "expected no alert of {} {:?}, got {}",
                    want.rule,
                    want.labels,
                    shown()
                )
            });
        }
        ExpectedState::Firing => Phase::Firing,
        ExpectedState::Pending => Phase::Pending,
    };
    let ok = matching
        .iter()
        .any(|a| a.phase == wanted && want.severity.is_none_or(|s| s == a.severity));
    (!ok).then(|| {
        format!(
            "expected {} {} {:?}{}, got {}",
            want.rule,
            wanted.as_str(),
            want.labels,
            want.severity
                .map(|s| format!(" ({})", s.as_str()))
                .unwrap_or_default(),
            if matching.is_empty() {
                "nothing".to_owned()
            } else {
                shown()
            }
        )
    })
}

type Columns = BTreeMap<String, Vec<Option<f64>>>;

/// The readings of index `i` of every series, as one batch at `at`.
async fn push(
    s: &RuleSandbox,
    series: &[(&testfile::Series, Columns)],
    i: usize,
    at: OffsetDateTime,
) -> Result<(), String> {
    let mut blocks: Vec<Value> = Vec::new();
    for (sr, cols) in series {
        let mut columns: Vec<String> = sr.labels.keys().cloned().collect();
        let mut row: Vec<Value> = sr.labels.values().map(|v| json!(v)).collect();
        let mut any = false;
        for (c, values) in cols {
            if let Some(Some(v)) = values.get(i) {
                columns.push(c.clone());
                row.push(json!(v));
                any = true;
            }
        }
        if any {
            blocks.push(json!({"family": sr.family, "instance": sr.server, "columns": columns, "rows": [row]}));
        }
    }
    s.push(blocks, at).await
}
