//! An alert's life through the server: pushed metrics raise it, evaluation (run here on a
//! moved clock) fires it, a real receiver gets one message per transition, a person
//! acknowledges it, silences and maintenance windows keep it quiet, and it resolves.

use pganalytics_domain::access::Role;
use pganalytics_ports::env::Clock as _;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use super::channels::webhook;
use super::receiver::Receiver;
use crate::helpers::*;

struct Scene {
    app: TestApp,
    rx: Receiver,
    collector: TestCollector,
    auth: String,
}

impl Scene {
    fn new(on: On) -> Self {
        Self::on(TestApp::spawn(on))
    }

    fn on(app: TestApp) -> Self {
        let rx = Receiver::start();
        let auth = format!("Bearer {}", app.api_token);
        let collector = app.register("db-host");
        let s = Self {
            app,
            rx,
            collector,
            auth,
        };
        let rule = json!({
            "name": "load_high", "severity": "warning", "for": "1m", "min_firing": "2m",
            "summary": "{{ server }}: load {{ value }}", "runbook": "look at top",
            "labels": {"team": "dba"},
            "condition": {"type": "metric", "family": "sys_load", "column": "load1",
                          "window": "2m", "op": ">", "threshold": 5}
        });
        assert_eq!(
            s.call("POST", "/api/v1/alert-rules", Some(&rule)).status,
            201
        );
        let r = s.call(
            "POST",
            "/api/v1/notification-channels",
            Some(&webhook("ops", &s.rx.url, "k")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        s
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.app
            .call(method, path, Some(("Authorization", &self.auth)), body)
    }

    /// A minute passes with the host's load at `load`; then alerts are evaluated and
    /// notifications sent.
    fn minute(&self, load: f64) {
        self.minute_evaluated(load);
        self.app.server.run(|uc, _| async move {
            uc.notify.run_once().await.unwrap();
        });
    }

    /// A minute passes with the host's load at `load`; then alerts are evaluated.
    fn minute_evaluated(&self, load: f64) {
        self.app.advance(Duration::minutes(1));
        let at = self.app.server.clock().now();
        let batch = json!({
            "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": self.collector.id,
            "agent_version": "test", "collected_at": at.format(&Rfc3339).unwrap(),
            "metrics": [{"family": "sys_load", "instance": "main", "columns": ["load1"], "rows": [[load]]}]
        });
        assert_eq!(
            self.app
                .push(&self.collector, &bytes(&batch), "identity")
                .status,
            200
        );
        self.app.server.run(|uc, _| async move {
            uc.evaluate_alerts.run_once().await.unwrap();
        });
    }

    fn alerts(&self, query: &str) -> Vec<Value> {
        let r = self.call("GET", &format!("/api/v1/alerts{query}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body.as_array().unwrap().clone()
    }

    fn kinds(&self) -> Vec<String> {
        self.rx
            .received()
            .iter()
            .flat_map(|m| m.body["alerts"].as_array().unwrap().clone())
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    }
}

api_tests! {
    fn an_alert_fires_once_is_acknowledged_and_resolves_with_one_message_each(on) {
        let s = Scene::new(on);
        s.minute(1.0);
        assert!(s.alerts("").is_empty());
        s.minute(10.0);
        assert_eq!(s.alerts("?state=pending").len(), 1, "pending for its `for`");
        assert!(s.kinds().is_empty());
        s.minute(10.0);
        let firing = s.alerts("?state=firing");
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0]["labels"]["team"], "dba");
        assert_eq!(firing[0]["labels"]["server"], "main");
        assert_eq!(firing[0]["summary"], "main: load 10");
        s.minute(12.0);
        assert_eq!(s.kinds(), ["firing"], "one message, however many cycles");

        let fp = firing[0]["fingerprint"].as_str().unwrap().to_owned();
        let user = format!("Bearer {}", s.app.server.api_token(Role::User));
        let viewer = format!("Bearer {}", s.app.server.api_token(Role::Viewer));
        let ack = json!({"comment": "looking"});
        let path = format!("/api/v1/alerts/{fp}/ack");
        assert_eq!(s.app.call("POST", &path, Some(("Authorization", &viewer)), Some(&ack)).status, 403);
        let r = s.app.call("POST", &path, Some(("Authorization", &user)), Some(&ack));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["ack"]["comment"], "looking");
        assert_eq!(s.app.call("POST", &path, Some(("Authorization", &user)), Some(&ack)).status, 409);
        s.minute(12.0);
        assert_eq!(s.kinds(), ["firing", "acknowledged"]);

        // Healthy again: it resolves once it has fired its `min_firing`.
        for _ in 0..4 {
            s.minute(1.0);
        }
        assert_eq!(s.alerts("?state=resolved").len(), 1);
        assert_eq!(s.kinds(), ["firing", "acknowledged", "resolved"]);
        let detail = s.call("GET", &format!("/api/v1/alerts/{fp}"), None);
        let history: Vec<&str> = detail.body["history"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
        assert_eq!(history, ["resolved", "acknowledged", "firing"]);
        // Every message carries its transition's id: what a receiver deduplicates on.
        let ids: std::collections::BTreeSet<String> = s.rx.received().iter()
            .map(|m| m.body["alerts"][0]["transition_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(s.app.audit_count(Some("alert.acknowledge"), None), 1);
        // A resolved alert and its history are kept 30 days, then maintenance forgets them.
        s.app.advance(Duration::days(29));
        let kept = s.app.server.run(|uc, _| async move { uc.maintenance.run().await.unwrap() });
        assert_eq!(kept.alerts_pruned, 0);
        s.app.advance(Duration::days(2));
        let pruned = s.app.server.run(|uc, _| async move { uc.maintenance.run().await.unwrap() });
        assert_eq!(pruned.alerts_pruned, 1);
        assert!(s.alerts("").is_empty());
    }

    fn a_firing_alert_repeats_until_acknowledged_and_an_escalation_is_sent(on) {
        // (Within the collector token's 15 minutes: the test's pushes use one token.)
        let s = Scene::new(on);
        let id = s.call("GET", "/api/v1/notification-channels", None).body[0]["id"].as_str().unwrap().to_owned();
        let mut change = webhook("ops", &s.rx.url, "k");
        change["route"]["repeat_interval"] = json!("2m");
        assert_eq!(s.call("PUT", &format!("/api/v1/notification-channels/{id}"), Some(&change)).status, 200);
        let mut rule = s.call("GET", "/api/v1/alert-rules/load_high", None).body["rule"].clone();
        rule["condition"]["critical"] = json!(20);
        let r = s.call("PUT", "/api/v1/alert-rules/load_high", Some(&rule));
        assert_eq!(r.status, 200, "{}", r.body);
        let count = |kind: &str| s.kinds().iter().filter(|k| *k == kind).count();
        s.minute(10.0);
        s.minute(10.0);
        assert_eq!(s.kinds(), ["firing"]);
        // Unacknowledged, it is sent again every 2 minutes.
        for _ in 0..4 {
            s.minute(10.0);
        }
        assert_eq!(count("repeated"), 2, "{:?}", s.kinds());
        // Past the critical threshold: escalated, once.
        s.minute(30.0);
        s.minute(30.0);
        assert_eq!(count("escalated"), 1, "{:?}", s.kinds());
        let firing = s.alerts("?state=firing");
        assert_eq!(firing[0]["severity"], "critical");
        // Acknowledged: no more repeats while it fires.
        let fp = firing[0]["fingerprint"].as_str().unwrap().to_owned();
        let r = s.call("POST", &format!("/api/v1/alerts/{fp}/ack"), Some(&json!({"comment": "on it"})));
        assert_eq!(r.status, 200, "{}", r.body);
        let before = count("repeated");
        for _ in 0..4 {
            s.minute(30.0);
        }
        assert_eq!(count("repeated"), before, "{:?}", s.kinds());
        assert_eq!(count("acknowledged"), 1);
    }

    fn a_receiver_that_was_down_gets_each_message_once_when_it_is_back(on) {
        let s = Scene::new(on);
        s.rx.set_down(true);
        for load in [10.0, 10.0, 10.0] {
            s.minute(load);
        }
        assert_eq!(s.alerts("?state=firing").len(), 1);
        let channel = s.call("GET", "/api/v1/notification-channels", None).body[0]["id"].as_str().unwrap().to_owned();
        let log = s.call("GET", &format!("/api/v1/notification-channels/{channel}/deliveries"), None);
        assert_eq!(log.body[0]["status"], "pending", "{}", log.body);
        assert!(log.body[0]["attempts"].as_u64().unwrap() >= 1);
        assert!(log.body[0]["last_error"].as_str().unwrap().contains("503"));
        s.rx.set_down(false);
        // Retries back off (10 s, doubling): within a few minutes it gets through, once.
        for _ in 0..4 {
            s.minute(10.0);
        }
        assert_eq!(s.kinds(), ["firing"]);
        let log = s.call("GET", &format!("/api/v1/notification-channels/{channel}/deliveries"), None);
        assert_eq!(log.body[0]["status"], "delivered", "{}", log.body);
    }

    fn silences_and_maintenance_windows_record_but_do_not_send(on) {
        let s = Scene::new(on);
        let until = (s.app.server.clock().now() + Duration::hours(1)).format(&Rfc3339).unwrap();
        let r = s.call("POST", "/api/v1/silences", Some(&json!({"matchers": ["rule=load_high", "server=~ma.*"], "ends_at": until, "comment": "load test"})));
        assert_eq!(r.status, 201, "{}", r.body);
        let silence = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(s.call("POST", "/api/v1/silences", Some(&json!({"matchers": [], "ends_at": until}))).status, 400);
        assert_eq!(s.call("POST", "/api/v1/silences", Some(&json!({"matchers": ["x=y"], "ends_at": "2001-01-01T00:00:00Z"}))).status, 400);
        for _ in 0..3 {
            s.minute(10.0);
        }
        assert_eq!(s.alerts("?state=firing").len(), 1, "the alert fires");
        assert!(s.kinds().is_empty(), "but nobody is told: {:?}", s.rx.received());
        let channel = s.call("GET", "/api/v1/notification-channels", None).body[0]["id"].as_str().unwrap().to_owned();
        let log = s.call("GET", &format!("/api/v1/notification-channels/{channel}/deliveries"), None);
        assert_eq!(log.body[0]["status"], "suppressed");
        assert_eq!(s.call("DELETE", &format!("/api/v1/silences/{silence}"), None).status, 200);
        // A maintenance window on the server does the same for its resolution.
        let server_id = s.call("GET", "/api/v1/servers", None).body["servers"][0]["id"].clone();
        let r = s.call("POST", "/api/v1/maintenance-windows", Some(&json!({"server_id": server_id, "ends_at": until})));
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(s.call("POST", "/api/v1/maintenance-windows", Some(&json!({"server_id": 999_999, "ends_at": until}))).status, 404);
        for _ in 0..4 {
            s.minute(1.0);
        }
        assert_eq!(s.alerts("?state=resolved").len(), 1);
        assert!(s.kinds().is_empty());
    }
}

/// A server killed (SIGKILL) after the receiver got a message but before it learnt so: the
/// server that takes over sends it again once the dead one's lease ends, with the same
/// idempotency key and transition, and a receiver deduplicating on the key keeps one.
/// PostgreSQL only: what survives a crash is what is in the database.
#[test]
fn a_server_killed_mid_delivery_is_followed_by_one_resend_with_the_same_key() {
    use super::leader::{KEYS, start};
    let (_cluster, url) = private_cluster();
    let keys = |s: &mut pganalytics_server::settings::Settings| {
        s.secrets_keys = Some(KEYS.to_owned().into());
    };
    // An alert fires (set up in-process, on the wall clock).
    let setup = TestApp::spawn_on_with(url.clone(), keys);
    let rx = Receiver::start();
    rx.set_hold(true);
    let auth = format!("Bearer {}", setup.api_token);
    let h = Some(("Authorization", auth.as_str()));
    let rule = json!({
        "name": "load_high", "severity": "warning", "for": "0s", "summary": "load {{ value }}",
        "condition": {"type": "metric", "family": "sys_load", "column": "load1",
                      "window": "2m", "op": ">", "threshold": 5}
    });
    assert_eq!(
        setup
            .call("POST", "/api/v1/alert-rules", h, Some(&rule))
            .status,
        201
    );
    let r = setup.call(
        "POST",
        "/api/v1/notification-channels",
        h,
        Some(&webhook("ops", &rx.url, "k")),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let channel = r.body["id"].as_str().unwrap().to_owned();
    let collector = setup.register("db-host");
    let at = setup.server.clock().now();
    let batch = json!({
        "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": collector.id,
        "agent_version": "test", "collected_at": at.format(&Rfc3339).unwrap(),
        "metrics": [{"family": "sys_load", "instance": "main", "columns": ["load1"], "rows": [[10.0]]}]
    });
    assert_eq!(
        setup.push(&collector, &bytes(&batch), "identity").status,
        200
    );
    for _ in 0..2 {
        setup
            .server
            .run(|uc, _| async move { uc.evaluate_alerts.run_once().await.unwrap() });
    }
    let firing = setup.call("GET", "/api/v1/alerts?state=firing", h, None);
    assert_eq!(firing.body.as_array().unwrap().len(), 1, "{}", firing.body);
    drop(setup);

    // A server process takes the delivery and sends it; the receiver holds its answer, and
    // the process is killed.
    let mut process = start(&url, &[("PGANALYTICS_NOTIFY_INTERVAL_SECONDS", "1")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while rx.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing was sent");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed_at = time::OffsetDateTime::now_utc();
    process.child.kill().unwrap();
    process.child.wait().unwrap();
    drop(process);
    rx.set_hold(false);

    // Another server: nothing while the dead one's lease runs, one resend after it.
    let app = TestApp::spawn_on_with(url, keys);
    let notify = || {
        app.server
            .run(|uc, _| async move { uc.notify.run_once().await.unwrap() })
    };
    app.server.clock().set(killed_at + Duration::minutes(1));
    assert_eq!(
        notify().messages,
        0,
        "still leased by the server that was killed"
    );
    app.server.clock().set(killed_at + Duration::minutes(3));
    let report = notify();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(notify().messages, 0, "delivered once is done");

    let got = rx.received();
    assert_eq!(got.len(), 2, "sent before the kill and once after");
    let key = |m: &super::receiver::Received| m.headers["x-pganalytics-idempotency-key"].clone();
    assert_eq!(key(&got[0]), key(&got[1]));
    assert_eq!(
        got[0].body["alerts"][0]["transition_id"],
        got[1].body["alerts"][0]["transition_id"]
    );
    let unique: std::collections::BTreeSet<String> = got.iter().map(key).collect();
    assert_eq!(
        unique.len(),
        1,
        "a receiver deduplicating on the key keeps one"
    );
    let log = app.call(
        "GET",
        &format!("/api/v1/notification-channels/{channel}/deliveries"),
        h,
        None,
    );
    assert_eq!(log.body[0]["status"], "delivered", "{}", log.body);
}
