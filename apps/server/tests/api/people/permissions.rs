use pganalytics_domain::access::{Access, Role};
use pganalytics_domain::audit::AuditContext;
use pganalytics_server::routes::table::ROUTES;
use serde_json::json;

use crate::helpers::{Reply, TestApp, api_tests};

/// An API token with `role`, made by the admin through the API.
pub fn token_with_role(app: &TestApp, admin: &str, role: &str) -> Reply {
    let r = app.call(
        "POST",
        "/api/v1/api-tokens",
        Some(("Authorization", &format!("Bearer {admin}"))),
        Some(&json!({ "name": format!("{role} token"), "role": role })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000001")
        .replace("{collector_id}", "00000000-0000-4000-8000-000000000001")
        .replace("{queryid}", "42")
        .replace("{family}", "pg_database")
}

api_tests! {
    /// Regression guard for issue 4: every people's route answers each role as the permission
    /// table in `domain::access` says — 403 exactly when the role lacks the permission.
    fn every_route_answers_every_role_as_the_permission_table_says(on) {
        // Four calls per route from one address: past the default burst of 200.
        let app = TestApp::spawn_with(on, |s| s.rate_people_burst = 10_000);
        let admin = app.admin_session();
        let tokens: Vec<(Role, String)> = Role::ALL
            .into_iter()
            .map(|role| {
                let t = token_with_role(&app, &admin, role.as_str());
                (role, t.body["token"].as_str().unwrap().to_owned())
            })
            .collect();
        let mut checked = 0;
        for route in ROUTES {
            let Access::Person(permission) = route.access else {
                continue;
            };
            for (role, token) in &tokens {
                let body = (route.method != "GET" && route.method != "DELETE").then(|| json!({}));
                let r = app.call(
                    route.method,
                    &concrete(route.path),
                    Some(("X-API-Key", token)),
                    body.as_ref(),
                );
                if role.allows(permission) {
                    assert!(
                        r.status != 401 && r.status != 403,
                        "{route:?} as {role:?}: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(
                        (r.status, r.body["error"]["code"].as_str()),
                        (403, Some("forbidden")),
                        "{route:?} as {role:?}"
                    );
                }
                checked += 1;
            }
            // Without a credential: 401.
            let r = app.call(route.method, &concrete(route.path), None, None);
            assert_eq!(r.status, 401, "{route:?} anonymous");
        }
        assert!(checked >= 60, "{checked} checks");
    }
}

api_tests! {
    fn tokens_are_accepted_in_the_three_headers_and_refused_in_the_query_string(on) {
        let app = TestApp::spawn(on);
        let t = app.api_token.clone();
        for (name, value) in [
            ("Authorization", format!("Bearer {t}")),
            ("Authorization", format!("ApiKey {t}")),
            ("X-API-Key", t.clone()),
        ] {
            assert_eq!(
                app.call("GET", "/api/v1/servers", Some((name, &value)), None)
                    .status,
                200,
                "{name}: {value}"
            );
        }
        for param in ["token", "api_key", "access_token"] {
            let r = app.call(
                "GET",
                &format!("/api/v1/servers?{param}={t}"),
                Some(("X-API-Key", &t)),
                None,
            );
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("credentials_in_query_string")),
                "{param}"
            );
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("logs")
            );
        }
        let basic = app.call(
            "GET",
            "/api/v1/servers",
            Some(("Authorization", "Basic YTpi")),
            None,
        );
        assert_eq!(basic.status, 401);
    }
}

api_tests! {
    fn revoking_a_token_or_disabling_its_owner_takes_effect_on_the_next_request(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let t = token_with_role(&app, &admin, "viewer");
        let (id, secret) = (
            t.body["id"].as_str().unwrap(),
            t.body["token"].as_str().unwrap(),
        );
        assert_eq!(
            app.call("GET", "/api/v1/servers", Some(("X-API-Key", secret)), None)
                .status,
            200
        );
        let listed = app.call(
            "GET",
            "/api/v1/api-tokens",
            Some(("Authorization", &auth)),
            None,
        );
        let row = listed.body["api_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone();
        assert_eq!(row["prefix"], t.body["prefix"]);
        assert!(row.get("token").is_none(), "the secret is shown once only");
        assert_eq!(
            app.call(
                "DELETE",
                &format!("/api/v1/api-tokens/{id}"),
                Some(("Authorization", &auth)),
                None
            )
            .status,
            200
        );
        let r = app.call("GET", "/api/v1/servers", Some(("X-API-Key", secret)), None);
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (401, Some("invalid_api_token"))
        );

        // A personal token dies with its owner's account being disabled.
        let u = app.call(
            "POST",
            "/api/v1/users",
            Some(("Authorization", &auth)),
            Some(&json!({ "username": "carol", "role": "user" })),
        );
        assert_eq!(u.status, 201, "{}", u.body);
        let password = u.body["password"].as_str().unwrap();
        let carol = u.body["id"].as_str().unwrap();
        let personal = app.call(
            "POST",
            "/api/v1/api-tokens",
            Some(("Authorization", &auth)),
            Some(&json!({ "name": "carol's", "role": "user", "owner": carol, "expires_in_days": 30 })),
        );
        let personal = personal.body["token"].as_str().unwrap().to_owned();
        let session = app.login("carol", password);
        let carol_access = session.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            app.call(
                "GET",
                "/api/v1/servers",
                Some(("X-API-Key", &personal)),
                None
            )
            .status,
            200
        );
        let off = app.call(
            "PATCH",
            &format!("/api/v1/users/{carol}"),
            Some(("Authorization", &auth)),
            Some(&json!({ "active": false })),
        );
        assert_eq!(off.status, 200, "{}", off.body);
        assert_eq!(
            app.call(
                "GET",
                "/api/v1/servers",
                Some(("X-API-Key", &personal)),
                None
            )
            .status,
            401
        );
        assert_eq!(
            app.call(
                "GET",
                "/api/v1/servers",
                Some(("Authorization", &format!("Bearer {carol_access}"))),
                None
            )
            .status,
            401
        );
        assert_eq!(app.login("carol", password).status, 401);
    }
}

api_tests! {
    fn an_expired_token_is_refused(on) {
        let app = TestApp::spawn(on);
        let t = app
            .server
            .run(|uc, _| async move {
                let who = AuditContext::cli(None);
                let ttl = Some(time::Duration::seconds(1));
                uc.api_tokens
                    .execute(&who, "short", Role::Viewer, ttl, None)
                    .await
            })
            .unwrap();
        let t = t.secret.expose();
        app.advance(time::Duration::milliseconds(1100));
        assert_eq!(
            app.call("GET", "/api/v1/servers", Some(("X-API-Key", t)), None)
                .status,
            401
        );
    }
}

api_tests! {
    fn the_last_admin_cannot_be_demoted_disabled_or_deleted(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let me = app.call(
            "GET",
            "/api/v1/auth/me",
            Some(("Authorization", &auth)),
            None,
        );
        let id = me.body["user"]["id"].as_str().unwrap();
        for (method, body) in [
            ("PATCH", Some(json!({ "role": "viewer" }))),
            ("PATCH", Some(json!({ "active": false }))),
            ("DELETE", None),
        ] {
            let r = app.call(
                method,
                &format!("/api/v1/users/{id}"),
                Some(("Authorization", &auth)),
                body.as_ref(),
            );
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (409, Some("last_admin")),
                "{method}"
            );
        }
        let dup = app.call(
            "POST",
            "/api/v1/users",
            Some(("Authorization", &auth)),
            Some(&json!({ "username": "admin", "role": "viewer" })),
        );
        assert_eq!(dup.status, 409);
        let weak = app.call(
            "POST",
            "/api/v1/users",
            Some(("Authorization", &auth)),
            Some(&json!({ "username": "dave", "role": "viewer", "password": "short" })),
        );
        assert_eq!(
            (weak.status, weak.body["error"]["code"].as_str()),
            (400, Some("invalid_input"))
        );
    }
}
