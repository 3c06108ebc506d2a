//! What each page shows for pushed data, and the actions of the alerts page, through forms
//! as a browser sends them.

use pganalytics_ports::env::Clock as _;
use serde_json::json;
use time::Duration;
use time::format_description::well_known::Rfc3339;

use super::Browser;
use super::security::user;
use crate::helpers::*;

/// Two example batches a minute apart: (app's admin auth header, server id).
fn with_data(app: &TestApp) -> (TestCollector, i64) {
    let c = app.register("db1");
    for _ in 0..2 {
        let at = app.server.clock().now();
        assert_eq!(
            app.push(&c, &bytes(&example_batch(c.id, at)), "gzip")
                .status,
            200
        );
        app.advance(Duration::minutes(1));
    }
    let auth = format!("Bearer {}", app.api_token);
    let id = app
        .call(
            "GET",
            "/api/v1/servers",
            Some(("Authorization", &auth)),
            None,
        )
        .body["servers"][0]["id"]
        .as_i64()
        .unwrap();
    (c, id)
}

api_tests! {
    /// Fleet, server, tables and logs pages hold the pushed figures.
    fn pages_show_the_pushed_data(on) {
        let app = TestApp::spawn(on);
        let (c, id) = with_data(&app);
        let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);

        let fleet = b.get("/console/fleet");
        assert!(fleet.body.contains(&format!("href=\"/console/servers/{id}\">main</a>")), "{}", fleet.body);
        assert!(fleet.body.contains("1 servers"), "{}", fleet.body);
        let none = b.get("/console/fleet?q=nothing-like-this");
        assert!(none.body.contains("No server matches the filter."));

        let server = b.get(&format!("/console/servers/{id}?range=15m"));
        assert_eq!(server.status, 200, "{}", server.body);
        for title in ["Transactions and rollbacks", "Sessions by state", "Cache hit ratio", "Host load", "Host memory", "Disk space used", "Replication lag"] {
            assert!(server.body.contains(&format!("<h3>{title}</h3>")), "{title}");
        }
        // The host load chart has its three lines with values for hover; WAL has no data.
        let load = &server.body[server.body.find("id=\"load\"").unwrap()..];
        let load = &load[..load.find("</figure>").unwrap()];
        assert_eq!(load.matches("<path class=\"line").count(), 3, "{load}");
        assert!(load.contains("data-values=\""), "{load}");
        let wal = &server.body[server.body.find("id=\"wal\"").unwrap()..];
        assert!(wal[..wal.find("</figure>").unwrap()].contains("No data in this range."));
        assert!(server.body.contains("From the <strong>raw</strong> data"), "the tier is named");
        let year = b.get(&format!("/console/servers/{id}?range=1y"));
        assert!(year.body.contains("one point every 2 d"), "{}", year.body);
        assert_eq!(b.get(&format!("/console/servers/{id}?range=2w")).status, 400);
        assert_eq!(b.get("/console/servers/424242").status, 404);

        let tables = b.get(&format!("/console/servers/{id}/tables"));
        assert!(tables.body.contains("public.orders"), "{}", tables.body);
        assert!(tables.body.contains("70 MiB"), "heap + indexes + TOAST: {}", tables.body);
        assert!(tables.body.find("public.orders").unwrap() < tables.body.find("public.customers").unwrap(), "largest first");

        let logs = b.get("/console/logs?range=1y");
        assert!(logs.body.contains("duplicate key value violates unique constraint"), "{}", logs.body);
        assert!(logs.body.contains("<h3>Events by kind</h3>"));
        let errors = b.get("/console/logs?range=1y&severity=error");
        assert!(!errors.body.contains("checkpoint complete"), "filtered by severity");
        assert!(errors.body.contains("23505"));
        let bad = b.get("/console/logs?range=1y&sqlstate=nope!");
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("sqlstate"), "the field is named: {}", bad.body);

        let queries = b.get(&format!("/console/servers/{id}/queries"));
        assert_eq!(queries.status, 200);
        assert!(queries.body.contains("No statement statistics in this range"));

        // Latency quantiles the agent read from the server log chart on the statement's page.
        let at = app.server.clock().now() - Duration::minutes(1);
        let latency = json!({
            "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": c.id,
            "agent_version": "test", "collected_at": at.format(&Rfc3339).unwrap(),
            "metrics": [
                {"family": "pg_statement", "instance": "main",
                 "columns": ["datname", "username", "queryid", "interval_seconds", "calls", "exec_time_ms", "rows"],
                 "rows": [["shop", "app", "4242", 60.0, 100.0, 900.0, 100.0]]},
                {"family": "pg_statement_latency", "instance": "main",
                 "columns": ["time", "datname", "query_id", "calls", "p50_ms", "p95_ms", "p99_ms", "max_ms", "total_ms"],
                 "rows": [[at.format(&Rfc3339).unwrap(), "shop", "4242", 100, 2.0, 40.0, 90.0, 120.0, 900.0]]}]
        });
        assert_eq!(app.push(&c, &bytes(&latency), "identity").status, 200);
        let page = b.get(&format!("/console/servers/{id}/queries/4242?range=15m"));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Latency from the server log"), "{}", page.body);
    }

    /// A user acknowledges a firing alert and silences it from the alerts page; the API
    /// sees both; an admin disables and edits a rule.
    fn alerts_are_acknowledged_silenced_and_rules_edited_from_the_page(on) {
        let app = TestApp::spawn(on);
        let auth = format!("Bearer {}", app.api_token);
        let c = app.register("db-host");
        let rule = json!({
            "name": "load_high", "severity": "warning", "for": "1m",
            "summary": "{{ server }}: load {{ value }}",
            "condition": {"type": "metric", "family": "sys_load", "column": "load1",
                          "window": "2m", "op": ">", "threshold": 5}
        });
        assert_eq!(app.call("POST", "/api/v1/alert-rules", Some(("Authorization", &auth)), Some(&rule)).status, 201);
        for _ in 0..3 {
            app.advance(Duration::minutes(1));
            let at = app.server.clock().now();
            let batch = json!({
                "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": c.id,
                "agent_version": "test", "collected_at": at.format(&Rfc3339).unwrap(),
                "metrics": [{"family": "sys_load", "instance": "main", "columns": ["load1"], "rows": [[10.0]]}]
            });
            assert_eq!(app.push(&c, &bytes(&batch), "identity").status, 200);
            app.server.run(|uc, _| async move { uc.evaluate_alerts.run_once().await.unwrap(); });
        }
        let (name, password) = user(&app, "olive", "user");
        let b = Browser::signed_in(&app, &name, &password);
        let page = b.get("/console/alerts");
        assert!(page.body.contains("main: load 10"), "{}", page.body);
        let fp = app.call("GET", "/api/v1/alerts?state=firing", Some(("Authorization", &auth)), None).body[0]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(page.body.contains(&format!("action=\"/console/alerts/{fp}/ack\"")));
        let suggested = &page.body[page.body.find("name=\"matchers\"").unwrap()..];
        let suggested = &suggested[suggested.find('>').unwrap() + 1..suggested.find("</textarea>").unwrap()];
        assert!(suggested.starts_with("rule=load_high\n") && suggested.contains("\nserver=main"), "the silence form suggests the alert's matchers: {suggested}");

        let r = b.post(&format!("/console/alerts/{fp}/ack"), &[("comment", "on it")]);
        assert_eq!((r.status, r.header("location")), (303, "/console/alerts"));
        let alert = app.call("GET", &format!("/api/v1/alerts/{fp}"), Some(("Authorization", &auth)), None);
        assert_eq!(alert.body["alert"]["ack"]["by"], "olive", "{}", alert.body);
        assert!(b.get("/console/alerts").body.contains("Acknowledged by olive"));
        let again = b.post(&format!("/console/alerts/{fp}/ack"), &[("comment", "")]);
        assert_eq!(again.status, 400, "acknowledged already: {}", again.body);

        let bad = b.post("/console/silences", &[("matchers", "no operator"), ("hours", "4")]);
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("is not a matcher"), "{}", bad.body);
        let r = b.post("/console/silences", &[("matchers", "rule=load_high\nserver=main"), ("hours", "4"), ("comment", "deploy")]);
        assert_eq!(r.status, 303, "{}", r.body);
        let silences = app.call("GET", "/api/v1/silences", Some(("Authorization", &auth)), None).body.clone();
        assert_eq!(silences[0]["matchers"], json!(["rule=load_high", "server=main"]));
        assert_eq!(silences[0]["created_by"], "olive");
        let id = silences[0]["id"].as_str().unwrap().to_owned();
        assert!(b.get("/console/alerts").body.contains(&format!("/console/silences/{id}/expire")));
        assert_eq!(b.post(&format!("/console/silences/{id}/expire"), &[]).status, 303);
        assert_eq!(app.call("GET", "/api/v1/silences", Some(("Authorization", &auth)), None).body.as_array().unwrap().len(), 0);

        let admin = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        assert_eq!(admin.post("/console/alerts/rules/load_high/disable", &[]).status, 303);
        let r = app.call("GET", "/api/v1/alert-rules/load_high", Some(("Authorization", &auth)), None);
        assert_eq!(r.body["enabled"], false, "{}", r.body);
        let editor = admin.get("/console/alerts/rules/load_high");
        assert!(editor.body.contains("name = &quot;load_high&quot;") || editor.body.contains("name = \"load_high\""), "{}", editor.body);
        let wrong = admin.post("/console/alerts/rules/load_high", &[("text", "[[rule]]\nname = \"other\"")]);
        assert_eq!(wrong.status, 400);
        let edited = "[[rule]]\nname = \"load_high\"\nseverity = \"critical\"\nfor = \"2m\"\nsummary = \"load\"\n[rule.condition]\ntype = \"metric\"\nfamily = \"sys_load\"\ncolumn = \"load1\"\nwindow = \"2m\"\nop = \">\"\nthreshold = 8\n";
        let saved = admin.post("/console/alerts/rules/load_high", &[("text", edited)]);
        assert_eq!(saved.status, 303, "{}", saved.body);
        let r = app.call("GET", "/api/v1/alert-rules/load_high", Some(("Authorization", &auth)), None);
        assert_eq!((r.body["rule"]["severity"].as_str(), r.body["rule"]["condition"]["threshold"].as_f64()), (Some("critical"), Some(8.0)), "{}", r.body);
    }
}
