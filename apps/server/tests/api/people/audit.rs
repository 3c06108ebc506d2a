use pganalytics_adapters::postgres::{PgStore, PoolOptions};
use pganalytics_adapters::secrets::KeyRing;
use pganalytics_domain::audit::AuditContext;
use pganalytics_ports::crypto::SecretCipher as _;
use pganalytics_ports::usecases::Secrets;
use pganalytics_ports::usecases::alerts::CHANNEL_SECRET;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

use super::permissions::token_with_role;
use crate::helpers::{ADMIN_PASSWORD, On, TestApp, api_tests, sql_text};

api_tests! {
    /// Regression guard for issue 4: each mutation writes exactly one audit row with its action,
    /// who and from where; reads write none.
    fn every_mutation_writes_one_audit_row_and_reads_write_none(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let a = Some(("Authorization", auth.as_str()));
        let count = || app.audit_count(None, None);
        let last = || app.call("GET", "/api/v1/audit-log?limit=1", a, None).body["entries"][0].clone();
        let c = app.register("audited");
        let cid = c.id.to_string();

        let before = count();
        for path in [
            "/api/v1/auth/me",
            "/api/v1/users",
            "/api/v1/api-tokens",
            "/api/v1/collectors",
            "/api/v1/servers",
            "/api/v1/audit-log",
        ] {
            assert_eq!(app.call("GET", path, a, None).status, 200, "{path}");
        }
        assert_eq!(count(), before, "reads are not audited");

        let user = app.call(
            "POST",
            "/api/v1/users",
            a,
            Some(&json!({ "username": "erin", "role": "viewer" })),
        );
        let uid = user.body["id"].as_str().unwrap().to_owned();
        let token = token_with_role(&app, &admin, "viewer");
        let tid = token.body["id"].as_str().unwrap().to_owned();
        let steps: Vec<(&str, String, Option<serde_json::Value>, &str)> = vec![
            (
                "PATCH",
                format!("/api/v1/users/{uid}"),
                Some(json!({ "role": "user" })),
                "user.update",
            ),
            (
                "PUT",
                format!("/api/v1/users/{uid}/password"),
                Some(json!({})),
                "user.password.reset",
            ),
            (
                "DELETE",
                format!("/api/v1/api-tokens/{tid}"),
                None,
                "api_token.revoke",
            ),
            (
                "POST",
                "/api/v1/registration-tokens".into(),
                Some(json!({ "uses": 2 })),
                "registration_token.create",
            ),
            (
                "PUT",
                format!("/api/v1/config/{cid}"),
                Some(json!({ "intervals": { "host": 30 } })),
                "collector.config.update",
            ),
            (
                "DELETE",
                format!("/api/v1/collectors/{cid}"),
                None,
                "collector.revoke",
            ),
            (
                "DELETE",
                format!("/api/v1/users/{uid}"),
                None,
                "user.delete",
            ),
            (
                "PUT",
                "/api/v1/auth/password".into(),
                Some(
                    json!({ "current_password": ADMIN_PASSWORD, "new_password": "another-long-password" }),
                ),
                "user.password.change",
            ),
            ("POST", "/api/v1/auth/logout".into(), None, "auth.logout"),
        ];
        let mut n = count();
        for (method, path, body, action) in steps {
            let r = app.call(method, &path, a, body.as_ref());
            assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
            n += 1;
            assert_eq!(count(), n, "{action}: exactly one row");
            if action != "auth.logout" {
                let e = last();
                assert_eq!(e["action"], action);
                assert_eq!(e["outcome"], "success");
                assert_eq!(e["actor"]["kind"], "user");
                assert_eq!(e["actor"]["name"], "admin");
                assert_eq!(e["address"], "127.0.0.1");
                assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
            }
        }
        let actions: usize = [
            "user.create",
            "api_token.create",
            "collector.register",
            "auth.login",
        ]
        .into_iter()
        .map(|a| app.audit_count(Some(a), None))
        .sum();
        assert!(
            actions >= 4,
            "creations, the registration and the login were audited"
        );
    }
}

api_tests! {
    fn refused_mutations_are_audited_as_denied_and_the_log_pages_by_cursor(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let viewer = token_with_role(&app, &admin, "viewer");
        let v = viewer.body["token"].as_str().unwrap();
        let r = app.call(
            "POST",
            "/api/v1/users",
            Some(("X-API-Key", v)),
            Some(&json!({ "username": "x", "role": "admin" })),
        );
        assert_eq!(r.status, 403);
        let denied = app.call(
            "GET",
            "/api/v1/audit-log?outcome=denied&actor_kind=api_token",
            Some(("Authorization", &auth)),
            None,
        );
        let e = &denied.body["entries"][0];
        assert_eq!(e["action"], "POST /api/v1/users");
        assert_eq!(e["actor"]["role"], "viewer");
        assert_eq!(
            app.call("GET", "/api/v1/audit-log", Some(("X-API-Key", v)), None)
                .status,
            403
        );

        for i in 0..5 {
            token_with_role(&app, &admin, if i % 2 == 0 { "viewer" } else { "user" });
        }
        let mut seen = Vec::new();
        let mut cursor: Option<i64> = None;
        loop {
            let q = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
            let page = app.call(
                "GET",
                &format!("/api/v1/audit-log?action=api_token.&limit=2{q}"),
                Some(("Authorization", &auth)),
                None,
            );
            assert_eq!(page.status, 200, "{}", page.body);
            for e in page.body["entries"].as_array().unwrap() {
                seen.push(e["id"].as_i64().unwrap());
            }
            match page.body["next_cursor"].as_i64() {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "the CLI's, the viewer's and five more");
        assert!(
            seen.windows(2).all(|w| w[0] > w[1]),
            "newest first, no repeats"
        );
        let bad = app.call(
            "GET",
            "/api/v1/audit-log?limit=0",
            Some(("Authorization", &auth)),
            None,
        );
        assert_eq!(bad.status, 400);
        let bad = app.call(
            "GET",
            "/api/v1/audit-log?since=yesterday",
            Some(("Authorization", &auth)),
            None,
        );
        assert_eq!(bad.status, 400);
    }
}

/// Secrets at rest: sealed under the key file's key, re-encrypted by `secrets rotate` after
/// a new key is put first, then readable with the new key alone. PostgreSQL only: a key
/// rotation is the CLI working on the data directory's key file and the database, which the
/// memory backend has neither of.
#[test]
fn secrets_round_trip_and_survive_a_key_rotation() {
    let app = TestApp::spawn(On::Postgres);
    let db_url = app.db_url.clone().unwrap();
    let key_file = app.data_dir.path().join("secrets.keys");
    let old_ring = std::fs::read_to_string(&key_file).unwrap();
    let secrets = |ring: &str| Secrets {
        store: Arc::new(PgStore::connect(&db_url, &PoolOptions::default()).unwrap()),
        channels: Arc::new(PgStore::connect(&db_url, &PoolOptions::default()).unwrap()),
        cipher: Arc::new(KeyRing::parse(&SecretString::from(ring.to_owned())).unwrap()),
        clock: app.server.backend().clock.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let value = SecretString::from("whsec-very-secret-value".to_owned());
    rt.block_on(secrets(&old_ring).put(&AuditContext::cli(None), "webhook:1", &value))
        .unwrap();
    let sealed = sql_text(
        &db_url,
        "SELECT sealed FROM secrets WHERE name = 'webhook:1'",
    );
    assert!(sealed.starts_with("v1:") && !sealed.contains("very-secret"));
    // A notification channel keeps its secret on the channel; rotation reseals it too.
    let h = format!("Bearer {}", app.api_token);
    let channel = app.call(
        "POST",
        "/api/v1/notification-channels",
        Some(("Authorization", &h)),
        Some(&crate::alerts::channels::webhook(
            "ops",
            "https://hooks.example/x",
            "channel-signing-value",
        )),
    );
    assert_eq!(channel.status, 201, "{}", channel.body);
    let channel_secret = || sql_text(&db_url, "SELECT sealed_secret FROM notification_channels");
    assert!(!channel_secret().starts_with("v1:k-new:"));

    let new_line = "k-new=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let old_key = old_ring
        .lines()
        .find(|l| l.contains('=') && !l.starts_with('#'))
        .unwrap();
    std::fs::write(&key_file, format!("{new_line}\n{old_key}\n")).unwrap();
    app.cli(&["secrets", "rotate"]);
    let resealed = sql_text(
        &db_url,
        "SELECT sealed FROM secrets WHERE name = 'webhook:1'",
    );
    assert!(resealed.starts_with("v1:k-new:"), "{resealed}");
    let channel_sealed = channel_secret();
    assert!(channel_sealed.starts_with("v1:k-new:"), "{channel_sealed}");
    let new_ring = KeyRing::parse(&SecretString::from(new_line.to_owned())).unwrap();
    let opened = new_ring.open(&channel_sealed, CHANNEL_SECRET).unwrap();
    assert_eq!(opened.expose_secret(), "channel-signing-value");

    let opened = rt.block_on(secrets(new_line).get("webhook:1")).unwrap();
    assert_eq!(opened.expose_secret(), "whsec-very-secret-value");
    assert!(
        rt.block_on(secrets(old_key).get("webhook:1")).is_err(),
        "the old key alone no longer opens it"
    );
}
