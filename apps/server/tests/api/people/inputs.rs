//! Hostile input (issue 11): every string that could reach storage is checked first, bodies
//! are objects, one credential per request, tokens from the future are refused, and
//! unsupported methods get 405. Each test guards one finding of the issue.

use pganalytics_domain::users::AccessClaims;
use pganalytics_ports::crypto::TokenSigner;
use serde_json::json;
use uuid::Uuid;

use super::permissions::token_with_role;
use crate::helpers::{TestApp, api_tests, bytes, example_batch, now};

api_tests! {
    /// Finding 3: `target=%00` reached PostgreSQL and failed with a 500.
    fn control_characters_in_query_parameters_are_a_400_naming_the_parameter(on) {
        let app = TestApp::spawn(on);
        for (param, raw) in [
            ("target", "%00"),
            ("action", "user.%00"),
            ("actor_id", "a%1B%5B31m"),
            ("target", "user%3Ax%0D%0Ax"),
        ] {
            let r = app.get(&format!("/api/v1/audit-log?{param}={raw}"));
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("invalid_query")),
                "{param}={raw}: {}",
                r.body
            );
            assert!(
                r.body["error"]["message"].as_str().unwrap().contains(param),
                "{}",
                r.body
            );
        }
        assert_eq!(app.get("/api/v1/audit-log?target=user%3Aabc").status, 200);
    }

    /// Finding 7: escape sequences and line breaks were stored in label values.
    fn a_label_with_control_characters_refuses_the_whole_push(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let mut b = example_batch(c.id, now());
        b["metrics"][0]["rows"][0][0] = "postgres\u{1b}[2J".into();
        let r = app.push(&c, &bytes(&b), "gzip");
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("wrong_type")),
            "{}",
            r.body
        );
        assert_eq!(app.total_rows(), 0);
    }

    /// Finding 7: `ADMIN` could be created beside `admin`; names are normalised.
    fn user_names_are_unique_whatever_their_case(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let a = Some(("Authorization", auth.as_str()));
        let dup = app.call("POST", "/api/v1/users", a, Some(&json!({ "username": "ADMIN", "role": "viewer" })));
        assert_eq!((dup.status, dup.body["error"]["code"].as_str()), (409, Some("name_taken")));
        let bob = app.call("POST", "/api/v1/users", a, Some(&json!({ "username": "Bob", "role": "viewer" })));
        assert_eq!((bob.status, bob.body["username"].as_str()), (201, Some("bob")));
        let password = bob.body["password"].as_str().unwrap();
        assert_eq!(app.login("BOB", password).status, 200, "logging in with any case");
        assert_eq!(app.user_count(), 2);
    }

    /// Finding 7: a JSON array was read as a body (serde reads structs from sequences).
    fn bodies_must_be_json_objects(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        for body in [json!([]), json!([1, 2]), json!("x"), json!(7)] {
            let r = app.call(
                "POST",
                "/api/v1/registration-tokens",
                Some(("Authorization", &auth)),
                Some(&body),
            );
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("malformed_json")),
                "{body}"
            );
        }
        assert_eq!(
            app.audit_count(Some("registration_token.create"), None),
            0,
            "no token was made"
        );
        let r = app.call("POST", "/api/v1/registration-tokens", Some(("Authorization", &auth)), Some(&json!({})));
        assert_eq!(r.status, 201);
    }

    /// Finding 7: a valid `X-API-Key` with a bogus `Authorization` was accepted.
    fn two_credentials_in_one_request_are_a_400(on) {
        let app = TestApp::spawn(on);
        let r = crate::helpers::reply(
            app.client()
                .get(&app.url("/api/v1/servers"))
                .header("X-API-Key", &app.api_token)
                .header("Authorization", "Bearer not-a-token")
                .call(),
        );
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("conflicting_credentials"))
        );
    }

    /// Finding 7: a person's token with `iat` a day ahead was accepted.
    fn a_token_issued_in_the_future_is_refused(on) {
        let app = TestApp::spawn(on);
        let real = app.admin_session();
        let claims: serde_json::Value = {
            use base64::Engine as _;
            let part = real.split('.').nth(1).unwrap();
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        let (sub, sid): (Uuid, Uuid) = (
            claims["sub"].as_str().unwrap().parse().unwrap(),
            claims["sid"].as_str().unwrap().parse().unwrap(),
        );
        let signer = pganalytics_adapters::jwt::JoseSigner::from_pem(&app.signing_key()).unwrap();
        let ahead = signer
            .issue_access(&AccessClaims::new(sub, sid, Uuid::new_v4(), now() + time::Duration::days(1)))
            .unwrap();
        let r = app.call("GET", "/api/v1/auth/me", Some(("Authorization", &format!("Bearer {ahead}"))), None);
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (401, Some("invalid_token")));
    }

    /// Finding 7: `TRACE` answered 404; an unsupported method is a 405 naming the allowed ones.
    fn an_unsupported_method_is_a_405_with_allow(on) {
        let app = TestApp::spawn(on);
        for (method, path, allow) in [
            ("TRACE", "/api/v1/health", "GET"),
            ("PUT", "/api/v1/servers", "GET"),
            ("DELETE", "/api/v1/auth/login", "POST"),
            ("POST", "/api/v1/users/00000000-0000-4000-8000-000000000001", "GET, PATCH, DELETE"),
        ] {
            let r = app.call(method, path, Some(("X-API-Key", &app.api_token)), None);
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (405, Some("method_not_allowed")),
                "{method} {path}"
            );
            assert_eq!(r.headers["allow"], allow, "{method} {path}");
        }
        assert_eq!(app.call("GET", "/api/v1/nowhere", None, None).status, 404);
    }

    /// Finding 7: error messages echoed Rust debug text of the path.
    fn error_messages_do_not_echo_debug_text(on) {
        let app = TestApp::spawn(on);
        for path in ["/swagger/..%2F..%2Fetc%2Fpasswd", "/api/v1/servers/not-a-number"] {
            let r = app.get(path);
            assert_eq!(r.status, 404, "{path}");
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(!message.contains("Path(") && !message.contains("passwd"), "{path}: {message}");
        }
    }

    /// Finding 7 (and 3): a login name with control characters is refused, naming the field.
    fn a_login_name_with_control_characters_is_a_400(on) {
        let app = TestApp::spawn(on);
        let r = app.login("admin\u{0}", "whatever-password");
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("invalid_input"))
        );
        assert!(r.body["error"]["message"].as_str().unwrap().contains("username"));
        let viewer = token_with_role(&app, &app.admin_session(), "viewer");
        assert_eq!(viewer.status, 201);
    }
}

api_tests! {
    /// Found by schemathesis: a GET on the registration path is dispatched to
    /// `GET /collectors/{id}`, but its access was looked up by the POST route's pattern, so
    /// it ran as public and failed inside with a 500.
    fn a_path_two_routes_match_is_authorized_as_the_route_that_serves_it(on) {
        let app = TestApp::spawn(on);
        let anon = crate::helpers::reply(
            app.client()
                .get(&app.url("/api/v1/collectors/register"))
                .call(),
        );
        assert_eq!(
            (anon.status, anon.body["error"]["code"].as_str()),
            (401, Some("authentication_required")),
            "{}",
            anon.body
        );
        let r = app.get("/api/v1/collectors/register");
        assert_eq!(r.status, 404, "{}", r.body);
    }

    /// Found by schemathesis: an API token expiring 65 million days from now overflowed
    /// the date and the connection was dropped without an answer.
    fn an_api_token_lifetime_past_ten_years_is_a_400(on) {
        let app = TestApp::spawn(on);
        for days in [0, 3651, 65_258_248, u32::MAX] {
            let r = app.call(
                "POST",
                "/api/v1/api-tokens",
                Some(("X-API-Key", &app.api_token)),
                Some(&json!({"name": "far", "role": "viewer", "expires_in_days": days})),
            );
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("invalid_input")),
                "{days}: {}",
                r.body
            );
        }
        let ok = app.call(
            "POST",
            "/api/v1/api-tokens",
            Some(("X-API-Key", &app.api_token)),
            Some(&json!({"name": "decade", "role": "viewer", "expires_in_days": 3650})),
        );
        assert_eq!(ok.status, 201, "{}", ok.body);
    }
}
