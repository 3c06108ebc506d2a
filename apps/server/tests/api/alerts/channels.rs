use pganalytics_domain::access::Role;
use serde_json::{Value, json};

use super::receiver::Receiver;
use crate::helpers::*;

pub fn webhook(name: &str, url: &str, secret: &str) -> Value {
    json!({
        "name": name, "kind": "webhook",
        "settings": {"url": url},
        "route": {"min_severity": "info", "group_wait": "0s"},
        "secret": secret
    })
}

api_tests! {
    fn channels_need_http_urls_and_their_secrets_never_come_back(on) {
        let app = TestApp::spawn(on);
        let h = format!("Bearer {}", app.api_token);
        let auth = Some(("Authorization", h.as_str()));
        for (body, says) in [
            (webhook("a", "ftp://example.com/hook", "s"), "http and https"),
            (webhook("a", "file:///etc/passwd", "s"), "http and https"),
            (webhook("a", "not a url", "s"), "not a URL"),
            (json!({"name": "a", "kind": "webhook", "settings": {"url": "https://x.example"}}), "secret"),
            (json!({"name": "a", "kind": "slack", "secret": "not-a-url"}), "webhook URL"),
            (json!({"name": "a", "kind": "pagerduty"}), "routing key"),
            (json!({"name": "a", "kind": "email", "settings": {"from": "a@example.com", "to": ["b@example.com"]}}), "smtp_host"),
            (json!({"name": "a", "kind": "email", "settings": {"smtp_host": "mail", "from": "a@example.com", "to": ["nobody"]}}), "e-mail address"),
            (json!({"name": "a", "kind": "alertmanager"}), "url"),
            (json!({"name": "a", "kind": "carrier-pigeon"}), "unknown variant `carrier-pigeon`"),
        ] {
            let r = app.call("POST", "/api/v1/notification-channels", auth, Some(&body));
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            assert!(r.body["error"]["message"].as_str().unwrap().contains(says), "{body}: {}", r.body);
        }
        let secret = "s3cret-signing-value";
        let r = app.call("POST", "/api/v1/notification-channels", auth, Some(&webhook("ops", "https://hooks.example/x", secret)));
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["has_secret"], true);
        let id = r.body["id"].as_str().unwrap().to_owned();
        for path in ["/api/v1/notification-channels".to_owned(), format!("/api/v1/notification-channels/{id}")] {
            let r = app.call("GET", &path, auth, None);
            assert_eq!(r.status, 200);
            assert!(!r.body.to_string().contains(secret), "{path} shows the secret");
        }
        // A change without `secret` keeps it; the audit log never holds it.
        let mut change = webhook("ops", "https://hooks.example/y", secret);
        change.as_object_mut().unwrap().remove("secret");
        let r = app.call("PUT", &format!("/api/v1/notification-channels/{id}"), auth, Some(&change));
        assert_eq!((r.status, r.body["has_secret"].clone()), (200, json!(true)));
        let audit = app.call("GET", "/api/v1/audit-log?action=notification_channel.", auth, None);
        assert_eq!(audit.body["entries"].as_array().unwrap().len(), 2);
        assert!(!audit.body.to_string().contains(secret));
        for role in [Role::User, Role::Viewer] {
            let t = format!("Bearer {}", app.server.api_token(role));
            assert_eq!(app.call("GET", "/api/v1/notification-channels", Some(("Authorization", &t)), None).status, 403);
        }
    }

    fn a_test_notification_reaches_a_real_webhook_signed_once(on) {
        let app = TestApp::spawn(on);
        let rx = Receiver::start();
        let h = format!("Bearer {}", app.api_token);
        let auth = Some(("Authorization", h.as_str()));
        let secret = "hook-secret";
        let r = app.call("POST", "/api/v1/notification-channels", auth, Some(&webhook("ops", &format!("{}/hook", rx.url), secret)));
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = app.call("POST", &format!("/api/v1/notification-channels/{id}/test"), auth, None);
        assert_eq!(r.status, 202, "{}", r.body);
        let sent = app.server.run(|uc, _| async move { uc.notify.run_once().await.unwrap() });
        assert_eq!(sent.delivered, 1, "{sent:?}");
        app.server.run(|uc, _| async move { uc.notify.run_once().await.unwrap() });
        let got = rx.received();
        assert_eq!(got.len(), 1, "exactly one message");
        let m = &got[0];
        assert_eq!(m.path, "/hook");
        assert!(pganalytics_adapters::notify::verify(
            secret.as_bytes(),
            &m.headers["x-pganalytics-timestamp"],
            &m.raw,
            &m.headers["x-pganalytics-signature"],
        ), "the signature checks out");
        assert!(!pganalytics_adapters::notify::verify(b"wrong", &m.headers["x-pganalytics-timestamp"], &m.raw, &m.headers["x-pganalytics-signature"]));
        assert_eq!(m.body["alerts"][0]["rule"], "pganalytics_channel_test");
        assert_eq!(m.headers["x-pganalytics-idempotency-key"], m.body["idempotency_key"].as_str().unwrap());
        let log = app.call("GET", &format!("/api/v1/notification-channels/{id}/deliveries"), auth, None);
        assert_eq!(log.body[0]["status"], "delivered", "{}", log.body);
    }
}
