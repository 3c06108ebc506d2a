use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use pganalytics_adapters::jwt::JoseSigner;
use pganalytics_domain::credentials::CollectorClaims;
use pganalytics_domain::users::AccessClaims;
use pganalytics_ports::crypto::TokenSigner;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::{ADMIN_PASSWORD, TestApp, api_tests};

fn bearer(t: &str) -> Option<(&'static str, String)> {
    Some(("Authorization", format!("Bearer {t}")))
}

fn me(app: &TestApp, token: &str) -> (u16, String) {
    let (n, v) = bearer(token).unwrap();
    let r = app.call("GET", "/api/v1/auth/me", Some((n, &v)), None);
    let code = r.body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (r.status, code)
}

api_tests! {
    fn the_first_admin_logs_in_and_a_wrong_password_or_unknown_user_get_the_same_answer(on) {
        let app = TestApp::spawn(on);
        let ok = app.login("admin", ADMIN_PASSWORD);
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.body["user"]["role"], "admin");
        assert!(
            ok.body.get("password_hash").is_none() && ok.body["user"].get("password_hash").is_none()
        );
        assert_eq!(ok.headers["cache-control"], "no-store");
        let token = ok.body["access_token"].as_str().unwrap();
        assert_eq!(me(&app, token), (200, String::new()));

        let wrong = app.login("admin", "not-the-password-at-all");
        let unknown = app.login("nobody", "not-the-password-at-all");
        assert_eq!((wrong.status, unknown.status), (401, 401));
        assert_eq!(
            wrong.body, unknown.body,
            "no hint whether the account exists"
        );
    }
}

api_tests! {
    fn a_refresh_token_works_once_and_its_reuse_revokes_the_whole_session(on) {
        let app = TestApp::spawn(on);
        let first = app.login("admin", ADMIN_PASSWORD);
        let refresh = |t: &str| {
            app.call(
                "POST",
                "/api/v1/auth/refresh",
                None,
                Some(&json!({ "refresh_token": t })),
            )
        };
        let r1 = first.body["refresh_token"].as_str().unwrap();
        let second = refresh(r1);
        assert_eq!(second.status, 200, "{}", second.body);
        let r2 = second.body["refresh_token"].as_str().unwrap();
        let access2 = second.body["access_token"].as_str().unwrap();
        assert_ne!(r1, r2);
        assert_eq!(me(&app, access2).0, 200);

        // The first token again: someone replayed it. The session ends for everyone holding it.
        let replay = refresh(r1);
        assert_eq!(
            (replay.status, replay.body["error"]["code"].as_str()),
            (401, Some("refresh_token_reused"))
        );
        assert_eq!(refresh(r2).status, 401, "the family is revoked");
        assert_eq!(
            me(&app, access2),
            (401, "session_ended".into()),
            "at once, not in 15 minutes"
        );
        assert_eq!(
            app.audit_count(Some("auth.refresh_reuse"), None),
            1
        );
        assert_eq!(refresh("pgr_garbage").status, 401);
    }
}

api_tests! {
    fn logout_ends_the_session_and_its_access_tokens_at_once(on) {
        let app = TestApp::spawn(on);
        let a = app.admin_session();
        let other = app.admin_session();
        let (n, v) = bearer(&a).unwrap();
        assert_eq!(
            app.call("POST", "/api/v1/auth/logout", Some((n, &v)), None)
                .status,
            204
        );
        assert_eq!(me(&app, &a), (401, "session_ended".into()));
        assert_eq!(me(&app, &other).0, 200, "other sessions go on");
    }
}

api_tests! {
    fn login_failures_are_throttled_per_account_whether_or_not_it_exists(on) {
        let app = TestApp::spawn(on);
        for name in ["admin", "ghost"] {
            for _ in 0..6 {
                assert_eq!(app.login(name, "wrong-password-123").status, 401);
            }
            let held = app.login(name, "wrong-password-123");
            assert_eq!(held.status, 429, "{name}: {}", held.body);
            assert!(
                held.headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
            if name == "admin" {
                // Even the right password waits out the delay.
                assert_eq!(app.login("admin", ADMIN_PASSWORD).status, 429);
            }
        }
        // Then it works, and clears the account's count.
        app.advance(time::Duration::milliseconds(2100));
        assert_eq!(app.login("admin", ADMIN_PASSWORD).status, 200);
        assert!(
            app.audit_count(Some("auth.login"), Some("denied")) >= 12
        );
    }
}

api_tests! {
    fn forged_expired_and_misaddressed_tokens_are_refused(on) {
        let app = TestApp::spawn(on);
        let real = app.admin_session();
        let key = app.signing_key();
        let signer = JoseSigner::from_pem(&key).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(real.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let (sub, sid): (Uuid, Uuid) = (
            claims["sub"].as_str().unwrap().parse().unwrap(),
            claims["sid"].as_str().unwrap().parse().unwrap(),
        );

        // alg: none, with the real claims.
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            real.split('.').nth(1).unwrap()
        );
        // HS256 keyed with the server's public key (the classic algorithm confusion).
        let public_pem = openssl::pkey::PKey::private_key_from_pem(&key)
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        let hs = josekit::jws::HS256.signer_from_bytes(&public_pem).unwrap();
        let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type("JWT");
        let confused = josekit::jwt::encode_with_signer(&payload, &header, &hs).unwrap();
        // ES256 with another key.
        let other = JoseSigner::load_or_create(&tempfile::tempdir().unwrap().path().join("k")).unwrap();
        let now = OffsetDateTime::now_utc();
        let wrong_key = other
            .issue_access(&AccessClaims::new(sub, sid, Uuid::new_v4(), now))
            .unwrap();
        // The right key, but expired; and a collector's token (another audience).
        let expired = signer
            .issue_access(&AccessClaims::new(
                sub,
                sid,
                Uuid::new_v4(),
                now - Duration::minutes(16),
            ))
            .unwrap();
        let collector = signer
            .issue(&CollectorClaims::new(
                pganalytics_domain::collector::CollectorId::from_uuid(sub),
                Uuid::new_v4(),
                now,
            ))
            .unwrap();
        let mut aud = AccessClaims::new(sub, sid, Uuid::new_v4(), now);
        aud.registered.aud = "someone-else".into();
        let wrong_aud = signer.issue_access(&aud).unwrap();

        assert_eq!(me(&app, &real).0, 200);
        for (what, token, code) in [
            ("alg none", none.as_str(), "invalid_token"),
            ("HS256 with the public key", &confused, "invalid_token"),
            ("another key", &wrong_key, "invalid_token"),
            ("expired", &expired, "token_expired"),
            ("a collector token", &collector, "invalid_token"),
            ("wrong audience", &wrong_aud, "invalid_token"),
        ] {
            assert_eq!(me(&app, token), (401, code.to_owned()), "{what}");
        }
    }
}

api_tests! {
    fn changing_ones_password_ends_the_other_sessions_and_needs_the_current_one(on) {
        let app = TestApp::spawn(on);
        let keep = app.admin_session();
        let other = app.admin_session();
        let (n, v) = bearer(&keep).unwrap();
        let change = |current: &str, new: &str| {
            app.call(
                "PUT",
                "/api/v1/auth/password",
                Some((n, &v)),
                Some(&json!({ "current_password": current, "new_password": new })),
            )
        };
        assert_eq!(
            change("wrong-current-pw", "a-brand-new-password").status,
            403
        );
        assert_eq!(change(ADMIN_PASSWORD, "short").status, 400);
        assert_eq!(change(ADMIN_PASSWORD, "a-brand-new-password").status, 204);
        assert_eq!(me(&app, &keep).0, 200);
        assert_eq!(me(&app, &other).0, 401);
        assert_eq!(app.login("admin", "a-brand-new-password").status, 200);
    }
}

/// Logs `name` in with `password` from `address`, as the login endpoint does.
fn login_from(app: &TestApp, name: &str, password: &str, address: &str) -> Result<(), String> {
    let (name, password, address) = (name.to_owned(), password.to_owned(), address.to_owned());
    app.server.run(move |uc, _| async move {
        let origin = pganalytics_domain::audit::Origin {
            address: Some(address),
            request_id: None,
        };
        uc.login
            .execute(&name, password.into(), origin)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

api_tests! {
    fn failures_from_one_address_never_lock_the_user_out_from_another(on) {
        // Issue 11, finding 4: a burst of failed logins for `admin` from one address made
        // the right password from anywhere wait for minutes.
        let app = TestApp::spawn(on);
        for _ in 0..8 {
            assert!(login_from(&app, "admin", "wrong-password-123", "192.0.2.66").is_err());
        }
        let attacker = login_from(&app, "admin", ADMIN_PASSWORD, "192.0.2.66").unwrap_err();
        assert!(attacker.contains("too many"), "{attacker}");
        assert_eq!(login_from(&app, "admin", ADMIN_PASSWORD, "198.51.100.7"), Ok(()));

        // Many addresses together (each under its own limits) only slow the account down:
        // the right password from a new address waits on the clock, then gets in.
        for i in 0..12 {
            let address = format!("203.0.113.{}", i % 4);
            assert!(login_from(&app, "admin", "wrong-password-123", &address).is_err());
        }
        std::thread::scope(|s| {
            let user = s.spawn(|| login_from(&app, "admin", ADMIN_PASSWORD, "198.51.100.8"));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while app.server.clock().sleepers() == 0 {
                assert!(!user.is_finished(), "the login was not slowed down");
                assert!(std::time::Instant::now() < deadline, "no pause began");
                std::thread::yield_now();
            }
            app.advance(Duration::seconds(5));
            assert_eq!(user.join().unwrap(), Ok(()));
        });
    }
}
