//! `pganalytics-server rules check|test`: rule files checked and tested without a server,
//! in the manner of `promtool check rules` and `promtool test rules`.

use pganalytics_adapters::memory::MemoryStore;
use pganalytics_adapters::system::{OsRandom, TestClock};
use pganalytics_domain::alerts::state::{AlertState, Phase};
use pganalytics_domain::alerts::testfile::{self, ExpectedState, RuleTest, TestFile};
use pganalytics_domain::alerts::{Rule, parse_file};
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::batch::{self, BatchLimits, ValidationContext};
use pganalytics_domain::collector::{
    CertificateInfo, Collector, CollectorId, CollectorName, CollectorStatus, Hostname,
};
use pganalytics_domain::credentials::{Fingerprint, RegistrationSecret, RegistrationToken};
use pganalytics_ports::env::Clock as _;
use pganalytics_ports::store::{
    AlertFilter, AlertRuleStore, AlertStore, CollectorStore, MetricStore, RegistrationTokenStore,
    StoredRule,
};
use pganalytics_ports::usecases::alerts::EvaluateAlerts;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
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

/// A fresh in-memory server with one collector, the rules, and a clock the test moves.
struct Sandbox {
    store: Arc<MemoryStore>,
    clock: Arc<TestClock>,
    collector: CollectorId,
    eval: EvaluateAlerts,
}

async fn sandbox(rules: &[Rule], origin: OffsetDateTime) -> Result<Sandbox, String> {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TestClock::new());
    clock.set(origin);
    let ctx = AuditContext::cli(Some("rules-test".into()));
    let secret = RegistrationSecret::from_bytes(&[1; 32]);
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    store
        .create_registration_token(
            &RegistrationToken {
                id: uuid::Uuid::new_v4(),
                hash: secret.hash(),
                uses_left: 1,
                expires_at: origin + Duration::days(1),
                created_at: origin,
            },
            &ctx.entry("registration_token.create", None, origin),
        )
        .await
        .map_err(|e| fail(&e))?;
    let collector = Collector {
        id: CollectorId::from_uuid(uuid::Uuid::new_v4()),
        name: CollectorName::parse("rules-test").map_err(|e| fail(&e))?,
        hostname: Hostname::parse("rules-test").map_err(|e| fail(&e))?,
        status: CollectorStatus::Active,
        certificate: CertificateInfo {
            fingerprint: Fingerprint::of_der(b"rules-test"),
            serial: "01".into(),
            not_after: origin + Duration::days(3650),
            pem: String::new(),
        },
        registered_at: origin,
        last_seen: None,
        config_version: 1,
    };
    store
        .enroll(
            &secret.hash(),
            &collector,
            origin,
            &ctx.entry("collector.register", None, origin),
        )
        .await
        .map_err(|e| fail(&e))?;
    for r in rules {
        let stored = StoredRule {
            spec: r.spec.clone(),
            builtin: false,
            edited: false,
            created_at: origin,
            updated_at: origin,
            last_error: None,
            last_evaluated: None,
        };
        store
            .create_rule(&stored, &ctx.entry("alert_rule.create", None, origin))
            .await
            .map_err(|e| fail(&e))?;
    }
    let eval = EvaluateAlerts {
        rules: store.clone(),
        alerts: store.clone(),
        channels: store.clone(),
        metrics: store.clone(),
        collectors: store.clone(),
        clock: clock.clone(),
        ids: Arc::new(OsRandom),
        leader: store.clone(),
        rule_timeout: std::time::Duration::from_secs(10),
        max_rows: 1_000_000,
    };
    Ok(Sandbox {
        store,
        clock,
        collector: collector.id,
        eval,
    })
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
        let now = s.clock.now();
        s.store
            .check_in(s.collector, now)
            .await
            .map_err(|e| vec![e.to_string()])?;
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
            let got = s
                .store
                .list_alerts(&AlertFilter {
                    rule: Some(want.rule.clone()),
                    limit: 10_000,
                    ..AlertFilter::default()
                })
                .await
                .map_err(|e| vec![e.to_string()])?;
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
    s: &Sandbox,
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
    if blocks.is_empty() {
        return Ok(());
    }
    let body = json!({
        "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": s.collector.as_uuid(),
        "agent_version": "rules-test", "collected_at": at.format(&Rfc3339).unwrap_or_default(),
        "metrics": blocks,
    });
    let ctx = ValidationContext {
        collector_id: s.collector,
        now: at,
        limits: BatchLimits::default(),
    };
    let batch = batch::parse(body.to_string().as_bytes())
        .and_then(|w| batch::validate(w, &ctx))
        .map_err(|e| format!("a series does not fit its family: {e}"))?;
    s.store
        .ingest(&batch, at)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
