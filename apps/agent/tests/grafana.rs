//! The Grafana dashboards against data from a real agent run (issue 16): a PostgreSQL 18
//! primary with a streaming standby, both monitored by the agent binary at one-second
//! intervals while a workload makes every panel's subject happen (statements, errors, a
//! lock wait, dead tuples and autovacuum, a slow vacuum, temporary files, a checkpoint, an
//! archived WAL file, a replication slot, a refused connection, an alert and a
//! notification). Maintenance then rolls the rows up as it would a day later.
//!
//! Every panel's SQL and every variable's query, with Grafana's macros and variables
//! expanded the way its PostgreSQL data source expands them (`$__timeGroup`,
//! `$__timeFilter`, `$__timeFrom()`, `$__timeTo()`, `$__interval`, `$__interval_ms`, a
//! multi-value `$database`), runs as a login in the read-only `pganalytics_reader` role over
//! three ranges: 1 hour (raw rows), 7 days (hourly rollups) and 180 days (daily rollups).
//! Every panel returns rows over the hour for one of the two servers, and every panel
//! that reads rollups returns rows over the long ranges too.

mod common;

use common::{Server, agent, follow_log, wait_for};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pganalytics_adapters::system::TestClock;
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries, standby_of};
use pganalytics_domain::audit::AuditContext;
use pganalytics_ports::env::Clock;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The agent process, killed when dropped.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A time range as Grafana hands it to the data source, with the interval it picked.
struct Range {
    name: &'static str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    interval_seconds: i64,
}

fn grafana_interval(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Grafana's expansion: template variables first, then the PostgreSQL data source's macros
/// (pkg/tsdb/grafana-postgresql-datasource/macros.go).
fn expand(sql: &str, server: i64, databases: &[String], range: &Range) -> String {
    let quoted: Vec<String> = databases
        .iter()
        .map(|d| format!("'{}'", d.replace('\'', "''")))
        .collect();
    let sql = sql
        .replace(
            "$__interval_ms",
            &(range.interval_seconds * 1000).to_string(),
        )
        .replace("$__interval", &grafana_interval(range.interval_seconds))
        .replace("$server", &server.to_string())
        .replace("$database", &quoted.join(","));
    let ts = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let mut out = String::new();
    let mut rest = sql.as_str();
    while let Some(at) = rest.find("$__") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let open = after.find('(').expect("a macro call");
        let name = &after[..open];
        let close = after[open..].find(')').expect("a closing parenthesis") + open;
        let args: Vec<&str> = after[open + 1..close].split(',').map(str::trim).collect();
        let expansion = match name {
            "timeFilter" => format!(
                "{} BETWEEN '{}' AND '{}'",
                args[0],
                ts(range.from),
                ts(range.to)
            ),
            "timeFrom" => format!("'{}'", ts(range.from)),
            "timeTo" => format!("'{}'", ts(range.to)),
            "timeGroup" | "timeGroupAlias" => {
                let secs = parse_interval(args[1].trim_matches('\''));
                let group = format!("floor(extract(epoch from {})/{secs})*{secs}", args[0]);
                // Grafana adds the alias when a comma follows `$__timeGroup(…)` directly.
                if name == "timeGroupAlias" || after[close + 1..].starts_with(',') {
                    format!("{group} AS \"time\"")
                } else {
                    group
                }
            }
            other => panic!("a macro this test does not expand: $__{other}"),
        };
        out.push_str(&expansion);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn parse_interval(v: &str) -> i64 {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: i64 = n.parse().unwrap_or_else(|_| panic!("interval {v}"));
    n * match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        u => panic!("interval unit {u}"),
    }
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64, diesel::result::Error> {
    diesel::sql_query(format!("SELECT count(*) AS n FROM ({sql}) q"))
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

/// The answer's rows as JSON objects.
fn rows_of(conn: &mut PgConnection, sql: &str) -> Result<Vec<Value>, diesel::result::Error> {
    let text: Name = diesel::sql_query(format!(
        "SELECT coalesce(json_agg(q), '[]')::text AS name FROM ({sql}) q"
    ))
    .get_result(conn)?;
    Ok(serde_json::from_str::<Vec<Value>>(&text.name).unwrap())
}

/// Percentages stay within 0–100 and rates are never negative (counter resets handled);
/// throughput drawn below the axis (written, sent) is negative on purpose.
fn check_values(rows: &[Value], unit: &str, what: &str, failed: &mut Vec<String>) {
    for row in rows {
        for (column, v) in row.as_object().unwrap() {
            let Some(v) = v.as_f64() else { continue };
            if column == "time" {
                continue;
            }
            let wrong = match unit {
                "percent" => !(-1e-9..=100.0 + 1e-9).contains(&v),
                "ops" | "rowsps" | "iops" | "ms" => v < 0.0,
                "Bps" => v < 0.0 && !matches!(column.as_str(), "written" | "sent"),
                _ => false,
            };
            if wrong {
                failed.push(format!("{what}: {column} = {v} ({unit})"));
            }
        }
    }
}

fn exec(url: &str, sql: &str) {
    PgConnection::establish(url)
        .unwrap()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows the server stored for `family` (any server), read as the owner.
fn stored(db: &str, sql: &str) -> i64 {
    let mut conn = PgConnection::establish(db).unwrap();
    count(&mut conn, sql).unwrap()
}

#[test]
fn every_dashboard_query_runs_as_the_reader_and_returns_rows_from_a_real_agent_run() {
    let bin = release_binaries(18);
    let archive = tempfile::tempdir().unwrap();
    // The cluster runs as `postgres` when the tests run as root.
    std::fs::set_permissions(
        archive.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let archive_command = format!("cp %p {}/%f", archive.path().display());
    let primary = monitored_cluster(
        bin.clone(),
        &[
            ("logging_collector", "on"),
            ("log_directory", "log"),
            ("log_line_prefix", "%m [%p] %q%u@%d "),
            ("lc_messages", "C"),
            ("log_min_duration_statement", "0"),
            ("log_checkpoints", "on"),
            ("log_lock_waits", "on"),
            ("deadlock_timeout", "100ms"),
            ("log_temp_files", "0"),
            ("log_autovacuum_min_duration", "0"),
            ("autovacuum_naptime", "1"),
            ("archive_mode", "on"),
            ("archive_command", &archive_command),
        ],
    );
    let standby = standby_of(&primary, bin);
    let url = primary.url("postgres");
    exec(&url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    exec(&url, "CREATE DATABASE shop");
    exec(
        &url,
        "SELECT pg_create_physical_replication_slot('grafana_slot')",
    );
    let shop = primary.url("shop");
    exec(
        &shop,
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer int, note text);
         CREATE INDEX orders_customer ON orders (customer);
         CREATE INDEX orders_note_unused ON orders (note);
         INSERT INTO orders SELECT g, g % 100, repeat('x', 100) FROM generate_series(1, 50000) g;
         CREATE TABLE slow_vacuum WITH (autovacuum_enabled = off) AS SELECT g AS id, repeat('y', 200) AS pad FROM generate_series(1, 200000) g;
         DELETE FROM slow_vacuum WHERE id % 2 = 0;",
    );

    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    server.register(state.path(), "grafana-host");
    let config = state.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "logs_from_beginning = true\nlatency_window_seconds = 2\n\
             [intervals]\nactivity = 1\ndatabase = 1\nreplication = 1\nhost = 1\ntables = 1\nstatements = 1\ndisk = 1\n\
             [[targets]]\nname = \"primary\"\ndsn = \"{}\"\n\
             [[targets]]\nname = \"standby\"\ndsn = \"{}\"\n",
            primary.url("postgres"),
            standby.url("postgres"),
        ),
    )
    .unwrap();
    let mut child = agent()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("PGANALYTICS_AGENT_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    follow_log(child.stderr.take().unwrap(), |_| {});
    let _agent = Agent(child);
    let db = server.db.url.clone();
    let has = |sql: &str| stored(&db, sql) > 0;

    // The workload.
    for i in 0..20 {
        exec(
            &shop,
            &format!(
                "SELECT count(*) FROM orders WHERE customer = {i};
                 SELECT sum(length(note)) FROM orders;
                 UPDATE orders SET note = note || 'z' WHERE id % 50 = {i};
                 DELETE FROM orders WHERE id % 997 = {i};"
            ),
        );
    }
    // Errors and a refused connection.
    let _ = PgConnection::establish(&shop)
        .unwrap()
        .batch_execute("SELECT 1 / 0");
    assert!(PgConnection::establish(&primary.url("no_such_database")).is_err());
    // A temporary file.
    exec(
        &shop,
        "SET work_mem = '64kB'; SELECT id FROM orders ORDER BY note DESC, id LIMIT 1;",
    );
    // A lock wait long enough for the agent to see it and the server to log it.
    let mut holder = PgConnection::establish(&shop).unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let waiter_url = shop.clone();
    let waiter = std::thread::spawn(move || {
        exec(&waiter_url, "SELECT count(*) FROM orders");
    });
    wait_for(
        "the agent to see the blocked session",
        Duration::from_secs(30),
        || has("SELECT 1 FROM metrics.pg_lock WHERE waiting > 0"),
    );
    holder.batch_execute("COMMIT").unwrap();
    waiter.join().unwrap();
    // A vacuum slow enough to be seen in progress; cancelled once seen.
    let vacuum_url = shop.clone();
    let vacuum = std::thread::spawn(move || {
        let mut c = PgConnection::establish(&vacuum_url).unwrap();
        c.batch_execute(
            "SET vacuum_cost_delay = '100ms'; SET vacuum_cost_limit = 1; \
             SET application_name = 'slow_vacuum';",
        )
        .unwrap();
        // Cancelled once the agent has seen it.
        let _ = c.batch_execute("VACUUM slow_vacuum");
    });
    wait_for(
        "the agent to see the vacuum in progress",
        Duration::from_secs(60),
        || has("SELECT 1 FROM metrics.pg_vacuum_progress WHERE datname = 'shop'"),
    );
    exec(
        &url,
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'slow_vacuum'",
    );
    vacuum.join().unwrap();
    // A checkpoint and an archived WAL file.
    exec(&url, "CHECKPOINT; SELECT pg_switch_wal();");

    // An alert that fires, and a notification that cannot be delivered (nobody listens).
    server.run(|uc, _| async move {
        let ctx = AuditContext::cli(Some("test".into()));
        uc.rules
            .import(
                &ctx,
                r#"
[[rule]]
name = "grafana_sessions"
severity = "warning"
summary = "{{ server }}: {{ value }} sessions"
[rule.condition]
type = "metric"
family = "pg_activity"
column = "sessions"
window = "1m"
aggregate = "max"
op = ">"
threshold = 0
"#,
            )
            .await
            .unwrap();
    });
    let ca = std::fs::read_to_string(&server.ca_file).unwrap();
    let client = pganalytics_adapters::http::agent_trusting(&ca).unwrap();
    let res = client
        .post(format!("{}/api/v1/notification-channels", server.url))
        .header("Authorization", format!("Bearer {}", server.api_token))
        .header("Content-Type", "application/json")
        .send(
            serde_json::json!({
                "name": "nobody", "kind": "webhook",
                "settings": {"url": "https://127.0.0.1:9/hook"},
                "route": {"min_severity": "info", "group_wait": "0s"},
                "secret": "grafana-test-signing-key"
            })
            .to_string(),
        )
        .unwrap();
    assert_eq!(res.status(), 201);

    // Everything the panels read has arrived.
    for (what, sql) in [
        (
            "statements",
            "SELECT 1 FROM metrics.pg_statement WHERE datname = 'shop'",
        ),
        (
            "latency",
            "SELECT 1 FROM metrics.pg_statement_latency WHERE datname = 'shop'",
        ),
        (
            "autovacuum in the log",
            "SELECT 1 FROM metrics.pg_log_event WHERE kind = 'autovacuum'",
        ),
        (
            "a checkpoint in the log",
            "SELECT 1 FROM metrics.pg_log_event WHERE category = 'checkpoint'",
        ),
        (
            "a lock wait in the log",
            "SELECT 1 FROM metrics.pg_log_event WHERE category = 'lock'",
        ),
        (
            "a temporary file in the log",
            "SELECT 1 FROM metrics.pg_log_event WHERE kind = 'temp_file'",
        ),
        (
            "the refused connection",
            "SELECT 1 FROM metrics.pg_log_event WHERE category = 'connection' AND severity = 'FATAL'",
        ),
        (
            "an archived WAL file",
            "SELECT 1 FROM metrics.pg_archiver WHERE archived_count > 0",
        ),
        (
            "the standby's receiver",
            "SELECT 1 FROM metrics.pg_wal_receiver",
        ),
        (
            "the primary's standby",
            "SELECT 1 FROM metrics.pg_replication",
        ),
        ("I/O", "SELECT 1 FROM metrics.pg_io"),
    ] {
        if !pganalytics_adapters::testing::poll_until(Duration::from_secs(90), || has(sql)) {
            let mut conn = PgConnection::establish(&db).unwrap();
            let kinds: Vec<Name> = diesel::sql_query(
                "SELECT coalesce(kind, '?') || ' ' || count(*) AS name \
                 FROM metrics.pg_log_event GROUP BY kind ORDER BY 1",
            )
            .load(&mut conn)
            .unwrap();
            let kinds: Vec<String> = kinds.into_iter().map(|k| k.name).collect();
            panic!("timed out waiting for {what}; log events by kind: {kinds:?}");
        }
    }
    server.run(|uc, _| async move {
        uc.evaluate_alerts.run_once().await.unwrap();
        uc.notify.run_once().await.unwrap();
    });
    // A few more readings of both servers after the last event, so that every rate has a
    // predecessor.
    let mark = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    wait_for(
        "three more readings of each server",
        Duration::from_secs(30),
        || {
            stored(
                &db,
                &format!(
                    "SELECT server_id FROM metrics.pg_database WHERE time > '{mark}' \
                 GROUP BY server_id HAVING count(DISTINCT time) >= 3"
                ),
            ) == 2
        },
    );

    // Roll up as maintenance would a day later (at most 24 hours per family and pass).
    let now = OffsetDateTime::now_utc();
    let later = now + time::Duration::hours(26);
    server.run(move |uc, _| async move {
        let clock = Arc::new(TestClock::new());
        clock.set(later);
        let m = &uc.maintenance;
        let maintenance = pganalytics_ports::usecases::Maintenance {
            metrics: m.metrics.clone(),
            tiers: m.tiers.clone(),
            alerts: m.alerts.clone(),
            leader: m.leader.clone(),
            clock: clock as Arc<dyn Clock>,
            retention_settings: m.retention_settings.clone(),
            columnar_after: m.columnar_after,
        };
        for _ in 0..3 {
            maintenance.run().await.unwrap();
        }
    });
    assert!(has("SELECT 1 FROM metrics_daily.pg_database"));

    // As a login in the read-only role.
    exec(
        &db,
        "CREATE ROLE grafana_test LOGIN PASSWORD 'grafana-test' IN ROLE pganalytics_reader",
    );
    let reader_url = db.replace("user=postgres", "user=grafana_test");
    assert_ne!(reader_url, db, "the test database's URL names its user");
    let mut reader = PgConnection::establish(&reader_url)
        .unwrap_or_else(|e| panic!("the reader's login ({reader_url}): {e}"));

    let ranges = [
        Range {
            name: "1 hour (raw)",
            from: now - time::Duration::hours(1),
            to: now + time::Duration::minutes(1),
            interval_seconds: 2,
        },
        Range {
            name: "7 days (hourly)",
            from: later - time::Duration::days(7),
            to: later,
            interval_seconds: 600,
        },
        Range {
            name: "180 days (daily)",
            from: later - time::Duration::days(180),
            to: later,
            interval_seconds: 86_400,
        },
    ];

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grafana/dashboards");
    let mut dashboards = 0;
    let mut queries = 0;
    let mut empty = Vec::new();
    let mut failed = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let dash: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        dashboards += 1;
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        // The variables: every server, and the databases of each.
        let vars = dash["templating"]["list"].as_array().unwrap();
        let server_var = vars.iter().find(|v| v["name"] == "server").unwrap();
        let servers: Vec<i64> = diesel::sql_query(format!(
            "SELECT __value::bigint AS n FROM ({}) q",
            server_var["query"].as_str().unwrap()
        ))
        .load::<Count>(&mut reader)
        .unwrap()
        .into_iter()
        .map(|c| c.n)
        .collect();
        assert_eq!(servers.len(), 2, "{file}: the server variable lists both");
        let mut databases: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for &s in &servers {
            let names = match vars.iter().find(|v| v["name"] == "database") {
                Some(v) => diesel::sql_query(format!(
                    "SELECT datname AS name FROM ({}) q",
                    expand(v["query"].as_str().unwrap(), s, &[], &ranges[0])
                ))
                .load::<Name>(&mut reader)
                .unwrap()
                .into_iter()
                .map(|n| n.name)
                .collect(),
                None => Vec::new(),
            };
            if vars.iter().any(|v| v["name"] == "database") {
                assert!(
                    names.contains(&"shop".to_string()),
                    "{file}: database list {names:?}"
                );
            }
            databases.insert(s, names);
        }
        for panel in dash["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            let unit = panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or("");
            for target in panel["targets"].as_array().unwrap() {
                assert_eq!(target["datasource"]["uid"], "pganalytics", "{title}");
                let sql = target["rawSql"].as_str().unwrap();
                let tiered = sql.contains("metrics_hourly.");
                for (i, range) in ranges.iter().enumerate() {
                    let mut rows = 0usize;
                    for &s in &servers {
                        let expanded = expand(sql, s, &databases[&s], range);
                        match rows_of(&mut reader, &expanded) {
                            Ok(answer) => {
                                rows += answer.len();
                                check_values(
                                    &answer,
                                    unit,
                                    &format!("{file} / {title} / {}", range.name),
                                    &mut failed,
                                );
                            }
                            Err(e) => failed.push(format!(
                                "{file} / {title} / {}: {e}\n{expanded}",
                                range.name
                            )),
                        }
                        queries += 1;
                    }
                    if rows == 0 && (i == 0 || tiered) {
                        empty.push(format!("{file} / {title} / {}", range.name));
                    }
                }
            }
        }
    }
    assert!(dashboards >= 12, "{dashboards} dashboards");
    assert!(
        failed.is_empty(),
        "queries that failed:\n{}",
        failed.join("\n\n")
    );
    assert!(
        empty.is_empty(),
        "panels with no rows:\n{}",
        empty.join("\n")
    );
    eprintln!("{dashboards} dashboards, {queries} queries run as the reader role");

    // The reader sees no credentials.
    for secret_sql in [
        "SELECT 1 FROM api_tokens",
        "SELECT 1 FROM registration_tokens",
        "SELECT cert_fingerprint FROM collectors",
        "SELECT sealed_secret FROM notification_channels",
        "SELECT body FROM notification_channels",
        "SELECT 1 FROM users",
    ] {
        let denied = count(&mut reader, secret_sql);
        assert!(denied.is_err(), "the reader role can run {secret_sql}");
    }
}

/// The repository's `build/` folder (ignored by git), where test tools are installed.
fn build_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build")
}

fn run(cmd: &mut std::process::Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Grafana's dashboard schema as Grafana publishes it (the `@grafana/schema` package,
/// generated from its CUE kinds), checked with the TypeScript compiler: each dashboard
/// becomes an object literal typed `Dashboard`, so a wrong type, an unknown enum value or
/// an unknown property anywhere fails. Three broken copies show the check bites.
#[test]
fn every_dashboard_is_valid_against_grafanas_published_schema() {
    let dir = build_dir().join("grafana-schema");
    std::fs::create_dir_all(&dir).unwrap();
    if !dir
        .join("node_modules/@grafana/schema/package.json")
        .exists()
        || !dir.join("node_modules/.bin/tsc").exists()
    {
        let npm = run(std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .args(["@grafana/schema@13.2.3", "typescript@5.9"]));
        assert!(
            npm.status.success(),
            "installing @grafana/schema and typescript from the npm registry failed (needs \
             Node.js and npm: apt-get install nodejs npm):\n{}",
            String::from_utf8_lossy(&npm.stderr)
        );
    }
    let check = dir.join("check");
    let _ = std::fs::remove_dir_all(&check);
    std::fs::create_dir_all(&check).unwrap();
    let write = |name: &str, dashboard: &Value| {
        std::fs::write(
            check.join(format!("{name}.ts")),
            format!(
                "import type {{ Dashboard }} from '@grafana/schema';\n\
                 export const dashboard: Dashboard = {};\n",
                serde_json::to_string_pretty(dashboard).unwrap()
            ),
        )
        .unwrap();
    };
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grafana/dashboards");
    let mut names = Vec::new();
    let mut first = None;
    for entry in std::fs::read_dir(&dashboards).unwrap() {
        let path = entry.unwrap().path();
        let dash: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        write(&name, &dash);
        first.get_or_insert(dash);
        names.push(name);
    }
    assert!(names.len() >= 12);
    let good = first.unwrap();
    let mut unknown_key = good.clone();
    unknown_key["panelz"] = Value::Array(vec![]);
    write("broken_unknown_key", &unknown_key);
    let mut wrong_type = good.clone();
    wrong_type["panels"][0]["gridPos"]["h"] = Value::String("8".into());
    write("broken_wrong_type", &wrong_type);
    let mut bad_enum = good;
    bad_enum["templating"]["list"][0]["refresh"] = 7.into();
    write("broken_enum", &bad_enum);
    std::fs::write(
        dir.join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "noEmit": true, "module": "esnext",
            "moduleResolution": "bundler", "target": "es2022", "types": []},
            "include": ["check/*.ts"]}"#,
    )
    .unwrap();
    let tsc = run(
        std::process::Command::new(dir.join("node_modules/.bin/tsc"))
            .args(["-p", "tsconfig.json"])
            .current_dir(&dir),
    );
    let report = String::from_utf8_lossy(&tsc.stdout).to_string();
    for name in &names {
        let errors: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with(&format!("check/{name}.ts")))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}.json against the schema:\n{}",
            errors.join("\n")
        );
    }
    for (broken, expected) in [
        (
            "broken_unknown_key",
            "'\"panelz\"' does not exist in type 'Dashboard'",
        ),
        (
            "broken_wrong_type",
            "Type 'string' is not assignable to type 'number'",
        ),
        ("broken_enum", "is not assignable to type 'VariableRefresh"),
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("check/{broken}.ts")) && l.contains(expected)),
            "the schema check let {broken} through:\n{report}"
        );
    }
}

/// The dashboards are what `grafana/generate.py` writes: edit the generator, not the JSON.
#[test]
fn the_dashboards_are_what_the_generator_writes() {
    let out = run(std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grafana/generate.py"))
        .arg("--check"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
