//! Storage tiers through the API: the tier that answers a series, top statements, log
//! search, retention, and maintenance on one server of two.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::{TestApp, TestCollector, api_tests, bytes, now};
use crate::people::permissions::token_with_role;

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap().replace('+', "%2B")
}

/// A batch of one family's rows (`time` first in `columns`).
fn batch(c: &TestCollector, family: &str, columns: &[&str], rows: Vec<Value>) -> Vec<u8> {
    let mut cols = vec!["time"];
    cols.extend(columns);
    bytes(&json!({
        "version": 1, "batch_id": Uuid::new_v4(), "collector_id": c.id, "agent_version": "test",
        "collected_at": now().format(&Rfc3339).unwrap(),
        "metrics": [{ "family": family, "instance": "main", "columns": cols, "rows": rows }],
    }))
}

fn server_id(app: &TestApp) -> i64 {
    app.get("/api/v1/servers").body["servers"][0]["id"]
        .as_i64()
        .unwrap()
}

fn maintain(app: &TestApp) -> Value {
    app.server.run(|uc, _| async move {
        serde_json::to_value(uc.maintenance.run().await.unwrap()).unwrap()
    })
}

api_tests! {
    fn long_ranges_come_from_rollups_with_the_same_answer_shape(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        // Three days of commits, one reading every 10 minutes, 60 commits a minute.
        let start = Tier::hour(now()) - Duration::days(3);
        let rows: Vec<Value> = (0..(3 * 24 * 6))
            .map(|i| {
                let t = start + Duration::minutes(10 * i);
                json!([t.format(&Rfc3339).unwrap(), "app", 600 * i, 5.0])
            })
            .collect();
        for chunk in rows.chunks(100) {
            let r = app.push(&c, &batch(&c, "pg_database", &["datname", "xact_commit", "numbackends"], chunk.to_vec()), "gzip");
            assert_eq!(r.status, 200, "{}", r.body);
        }
        // The running hour: a reading now.
        let r = app.push(&c, &batch(&c, "pg_database", &["datname", "xact_commit", "numbackends"], vec![json!([now().format(&Rfc3339).unwrap(), "app", 600 * 432 + 60, 5.0])]), "gzip");
        assert_eq!(r.status, 200, "{}", r.body);
        // 24 hours per family and pass: three days catch up in a few passes.
        let mut rolled = 0;
        for _ in 0..5 {
            rolled += maintain(&app)["rollup"]["rows_rolled_up"].as_u64().unwrap();
        }
        assert!(rolled >= 420, "{rolled} rows rolled up");
        let server = server_id(&app);
        let series = |q: &str| {
            let r = app.get(&format!("/api/v1/servers/{server}/metrics?family=pg_database&columns=xact_commit,numbackends&{q}"));
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        };
        let (from, to) = (rfc(start + Duration::hours(1)), rfc(start + Duration::days(2)));
        let raw = series(&format!("from={from}&to={to}&step=10m"));
        assert_eq!(raw["tier"], "raw");
        let hourly = series(&format!("from={from}&to={to}&step=1h"));
        assert_eq!((hourly["tier"].as_str(), hourly["step_seconds"].as_i64()), (Some("hourly"), Some(3600)));
        assert!(hourly["downsampled"].is_null());
        for s in hourly["series"].as_array().unwrap() {
            let want = if s["column"] == "xact_commit" { 1.0 } else { 5.0 };
            for p in s["points"].as_array().unwrap() {
                let v = p[1].as_f64().unwrap();
                assert!((v - want).abs() < 1e-9, "{} {p}: a rate stays per second", s["column"]);
            }
            assert_eq!(s["points"].as_array().unwrap().len(), 47);
        }
        let daily = series(&format!("from={}&to={}&step=1d", rfc(start), rfc(now())));
        assert_eq!(daily["tier"], "daily");
        // Too many steps: a larger step, and the answer says why.
        let fine = series(&format!("from={}&to={}&step=1s", rfc(start), rfc(now())));
        assert_eq!(fine["tier"], "raw");
        assert!(fine["step_seconds"].as_i64().unwrap() > 20);
        assert!(fine["downsampled"].as_str().unwrap().contains("points per series"), "{fine}");
        // A year at one second: daily rollups, and the answer says so.
        let year = series(&format!("from={}&step=1s", rfc(now() - Duration::days(365))));
        assert_eq!((year["tier"].as_str(), year["step_seconds"].as_i64()), (Some("daily"), Some(86_400)));
        // The running hour comes from raw rows: a chart never ends an hour early.
        let recent = series(&format!("from={}&step=1h", rfc(now() - Duration::hours(5))));
        assert_eq!(recent["tier"], "hourly");
        let last = recent["series"][0]["points"].as_array().unwrap().last().unwrap()[0].as_str().unwrap().to_owned();
        let last = OffsetDateTime::parse(&last, &Rfc3339).unwrap();
        assert!(Tier::hour(now()) - last <= Duration::hours(1), "the last step starts at {last}");
    }
}

/// Helpers for hours.
struct Tier;
impl Tier {
    fn hour(t: OffsetDateTime) -> OffsetDateTime {
        t.replace_time(time::Time::from_hms(t.hour(), 0, 0).unwrap())
    }
}

fn push_statements(app: &TestApp, c: &TestCollector) {
    let base = now() - Duration::hours(2);
    let mut rows = Vec::new();
    let mut texts = Vec::new();
    for i in 0..8i64 {
        let t = (base + Duration::minutes(10 * i)).format(&Rfc3339).unwrap();
        // queryid, calls, exec_time_ms, rows, temp_blks_written
        for (q, calls, ms, temp) in [
            ("11", 100.0, 2.0, 0.0),
            ("22", 2.0, 3000.0, 50.0),
            ("33", 40.0, 1.0, 900.0),
        ] {
            rows.push(json!([
                t,
                "app",
                "alice",
                q,
                600.0,
                calls,
                ms * calls,
                calls,
                temp
            ]));
        }
        texts.push(json!([t, "app", "22", "SELECT pg_sleep($1)"]));
    }
    let cols = [
        "datname",
        "username",
        "queryid",
        "interval_seconds",
        "calls",
        "exec_time_ms",
        "rows",
        "temp_blks_written",
    ];
    assert_eq!(
        app.push(c, &batch(c, "pg_statement", &cols, rows), "gzip")
            .status,
        200
    );
    assert_eq!(
        app.push(
            c,
            &batch(
                c,
                "pg_statement_text",
                &["datname", "queryid", "query"],
                texts
            ),
            "gzip"
        )
        .status,
        200
    );
}

api_tests! {
    fn viewers_read_top_statements_and_one_statement_and_bad_parameters_are_400(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        push_statements(&app, &c);
        let server = server_id(&app);
        let admin = app.admin_session();
        let viewer = token_with_role(&app, &admin, "viewer").body["token"].as_str().unwrap().to_owned();
        let get = |path: &str| app.call("GET", path, Some(("X-API-Key", &viewer)), None);

        let top = get(&format!("/api/v1/servers/{server}/statements?from={}", rfc(now() - Duration::hours(3))));
        assert_eq!(top.status, 200, "{}", top.body);
        assert_eq!(top.body["tier"], "raw");
        let ids: Vec<&str> = top.body["statements"].as_array().unwrap().iter().map(|s| s["queryid"].as_str().unwrap()).collect();
        assert_eq!(ids, ["22", "11", "33"], "by total time");
        let first = &top.body["statements"][0];
        assert_eq!((first["calls"].as_f64(), first["total_time_ms"].as_f64()), (Some(16.0), Some(48_000.0)));
        assert_eq!(first["mean_time_ms"].as_f64(), Some(3000.0));
        assert_eq!(first["query"], "SELECT pg_sleep($1)");

        let by = |order: &str| {
            let r = get(&format!("/api/v1/servers/{server}/statements?from={}&order={order}&limit=1", rfc(now() - Duration::hours(3))));
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["statements"][0]["queryid"].as_str().unwrap().to_owned()
        };
        assert_eq!(by("calls"), "11");
        assert_eq!(by("temp_blks"), "33");
        assert_eq!(by("mean_time"), "22");

        // Hourly steps read rollups: statements pushed after their hours ended are rolled up
        // by the next maintenance pass.
        maintain(&app);
        let one = get(&format!("/api/v1/servers/{server}/statements/33?from={}&step=1h", rfc(now() - Duration::hours(3))));
        assert_eq!(one.status, 200, "{}", one.body);
        let calls: f64 = one.body["series"].as_array().unwrap().iter().map(|s| s["calls"].as_f64().unwrap()).sum();
        assert_eq!(calls, 320.0);
        assert_eq!(one.body["totals"][0]["rows_per_call"].as_f64(), Some(1.0));

        for (path, field) in [
            (format!("/api/v1/servers/{server}/statements?order=fastest"), "order"),
            (format!("/api/v1/servers/{server}/statements?limit=0"), "limit"),
            (format!("/api/v1/servers/{server}/statements?from=yesterday"), "from"),
            (format!("/api/v1/servers/{server}/statements/abc"), "queryid"),
            (format!("/api/v1/servers/{server}/statements/33?step=0s"), "step"),
        ] {
            let r = get(&path);
            assert_eq!((r.status, r.body["error"]["field"].as_str()), (400, Some(field)), "{path}: {}", r.body);
        }
        assert_eq!(get(&format!("/api/v1/servers/{server}/statements/999")).status, 404);
        assert_eq!(get("/api/v1/servers/999999/statements").status, 404);
    }
}

fn push_events(app: &TestApp, c: &TestCollector, n: i64, base: OffsetDateTime) {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            let t = (base + Duration::seconds(i)).format(&Rfc3339).unwrap();
            if i % 2 == 0 {
                json!([
                    t,
                    "ERROR",
                    "deadlock",
                    "40P01",
                    "app",
                    "alice",
                    "psql",
                    100 + i,
                    format!("deadlock detected on relation r{i}"),
                    "deadlock"
                ])
            } else {
                json!([
                    t,
                    "LOG",
                    "checkpoint",
                    null,
                    null,
                    null,
                    null,
                    100 + i,
                    format!("checkpoint complete: wrote {i} buffers"),
                    "checkpoint"
                ])
            }
        })
        .collect();
    let cols = [
        "severity",
        "category",
        "sqlstate",
        "datname",
        "username",
        "application_name",
        "pid",
        "message",
        "kind",
    ];
    let r = app.push(c, &batch(c, "pg_log_event", &cols, rows), "gzip");
    assert_eq!(r.status, 200, "{}", r.body);
}

api_tests! {
    fn log_events_are_searched_paged_and_counted_and_bad_filters_name_the_field(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let base = now() - Duration::minutes(30);
        push_events(&app, &c, 40, base);
        let admin = app.admin_session();
        let viewer = token_with_role(&app, &admin, "viewer").body["token"].as_str().unwrap().to_owned();
        let get = |path: &str| app.call("GET", path, Some(("X-API-Key", &viewer)), None);

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => "/api/v1/log-events?limit=6&severity=error".to_owned(),
                Some(c) => format!("/api/v1/log-events?limit=6&severity=error&cursor={c}"),
            };
            let r = get(&path);
            assert_eq!(r.status, 200, "{}", r.body);
            seen.extend(r.body["events"].as_array().unwrap().iter().map(|e| e["pid"].as_f64().unwrap() as i64));
            // More events arrive between pages.
            push_events(&app, &c, 2, now() - Duration::seconds(1));
            match r.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let want: Vec<i64> = (0..40).rev().filter(|i| i % 2 == 0).map(|i| 100 + i).collect();
        assert_eq!(seen, want, "newest first, every error once");

        let count = |q: &str| {
            let r = get(&format!("/api/v1/log-events?limit=1000&to={}&{q}", rfc(base + Duration::minutes(5))));
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["events"].as_array().unwrap().len()
        };
        assert_eq!(count("q=deadlock+detected"), 20);
        assert_eq!(count("q=r12"), 1);
        assert_eq!(count("sqlstate=40"), 20);
        assert_eq!(count("kind=checkpoint"), 20);
        assert_eq!(count("database=app&user=alice&application=psql"), 20);
        assert_eq!(count(&format!("server={}", server_id(&app))), 40);

        let counts = get(&format!("/api/v1/log-events/counts?to={}&step=1m", rfc(base + Duration::minutes(5))));
        assert_eq!(counts.status, 200, "{}", counts.body);
        let total: i64 = counts.body["counts"].as_array().unwrap().iter().map(|c| c["count"].as_i64().unwrap()).sum();
        assert_eq!(total, 40);

        for (q, field) in [
            ("sqlstate=4", "sqlstate"),
            ("severity=LOUD", "severity"),
            ("from=noon", "from"),
            ("limit=0", "limit"),
            ("cursor=bm90IGEgY3Vyc29y", "cursor"),
            ("server=abc", "server"),
            ("q=%20", "q"),
            ("step=1m", "step"),
        ] {
            let r = get(&format!("/api/v1/log-events?{q}"));
            assert_eq!((r.status, r.body["error"]["field"].as_str()), (400, Some(field)), "{q}: {}", r.body);
        }
        let r = get("/api/v1/log-events/counts?step=1s&from=2026-01-01T00:00:00Z");
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (400, Some("step")), "{}", r.body);
    }
}

api_tests! {
    fn retention_is_read_by_anyone_changed_by_admins_audited_and_applied(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let viewer = token_with_role(&app, &admin, "viewer").body["token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {admin}");
        let list = app.call("GET", "/api/v1/retention", Some(("X-API-Key", &viewer)), None);
        assert_eq!(list.status, 200);
        let families = list.body["families"].as_array().unwrap();
        let disk = families.iter().find(|f| f["family"] == "disk_usage").unwrap();
        assert_eq!((disk["raw_days"].as_u64(), disk["hourly_days"].as_u64(), disk["daily_days"].as_u64()), (Some(30), Some(90), Some(730)));
        assert_eq!(disk["source"], "default");

        let body = json!({"raw_days": 3, "hourly_days": 30, "daily_days": 400});
        let denied = app.call("PUT", "/api/v1/retention/pg_table", Some(("X-API-Key", &viewer)), Some(&body));
        assert_eq!(denied.status, 403);
        let set = app.call("PUT", "/api/v1/retention/pg_table", Some(("Authorization", &bearer)), Some(&body));
        assert_eq!(set.status, 200, "{}", set.body);
        assert_eq!((set.body["raw_days"].as_u64(), set.body["source"].as_str()), (Some(3), Some("api")));
        assert_eq!(app.audit_count(Some("retention.update"), Some("success")), 1);

        let bad = app.call("PUT", "/api/v1/retention/pg_table", Some(("Authorization", &bearer)), Some(&json!({"raw_days": 0, "hourly_days": 30, "daily_days": 400})));
        assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (400, Some("raw_days")), "{}", bad.body);
        let unknown = app.call("PUT", "/api/v1/retention/pg_nope", Some(("Authorization", &bearer)), Some(&body));
        assert_eq!(unknown.status, 404);
        let after = app.call("GET", "/api/v1/retention", Some(("X-API-Key", &viewer)), None);
        let table = after.body["families"].as_array().unwrap().iter().find(|f| f["family"] == "pg_table").unwrap().clone();
        assert_eq!(table["raw_days"].as_u64(), Some(3), "a refused change changes nothing");

        let reset = app.call("DELETE", "/api/v1/retention/pg_table", Some(("Authorization", &bearer)), None);
        assert_eq!((reset.status, reset.body["source"].as_str(), reset.body["raw_days"].as_u64()), (200, Some("default"), Some(7)));
        assert_eq!(app.audit_count(Some("retention.reset"), Some("success")), 1);
    }
}

api_tests! {
    fn the_settings_file_sets_retention_and_the_api_wins(on) {
        let app = TestApp::spawn_with(on, |s| {
            s.retention.insert(
                "pg_index".into(),
                pganalytics_domain::rollup::Retention { raw_days: 2, hourly_days: 20, daily_days: 200 },
            );
        });
        let r = app.get("/api/v1/retention");
        let index = r.body["families"].as_array().unwrap().iter().find(|f| f["family"] == "pg_index").unwrap().clone();
        assert_eq!((index["raw_days"].as_u64(), index["source"].as_str()), (Some(2), Some("settings")));
    }
}

#[test]
fn maintenance_runs_on_exactly_one_of_two_servers_sharing_a_database() {
    let db = pganalytics_adapters::testing::TestDatabase::create();
    let fast = |s: &mut pganalytics_server::settings::Settings| s.maintenance_interval_seconds = 1;
    let a = TestApp::spawn_on_with(db.url.clone(), fast);
    let b = TestApp::spawn_on_with(db.url.clone(), fast);
    let leader = |app: &TestApp| {
        let text = app
            .get("/metrics")
            .body
            .as_str()
            .unwrap_or_default()
            .to_owned();
        text.lines()
            .find(|l| l.starts_with("pganalytics_maintenance_leader "))
            .map(|l| l.ends_with(" 1"))
    };
    // Both have run a pass (at start, then every second): exactly one leads.
    crate::alerts::leader::wait_until("both servers' maintenance turn", || {
        leader(&a).is_some() && leader(&b).is_some()
    });
    let (la, lb) = (leader(&a).unwrap_or(false), leader(&b).unwrap_or(false));
    assert!(la != lb, "exactly one server leads maintenance: {la} {lb}");
    let (on, off) = if la { (&a, &b) } else { (&b, &a) };
    let health = on.get("/api/v1/health").body;
    assert!(
        health["maintenance"]["rollup_lag_seconds"].is_i64(),
        "{health}"
    );
    assert!(off.get("/api/v1/health").body["maintenance"].is_null());
}
