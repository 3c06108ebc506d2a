//! The OpenAPI document and the Swagger page: the document validates, covers every route of
//! the router (and only those), says who may call each, and the server's real answers
//! conform to it; the page and every file it loads come from the server itself.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use pganalytics_adapters::test_clusters::python_tool;
use pganalytics_domain::access::Access;
use pganalytics_server::routes::table::ROUTES;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{ADMIN_PASSWORD, Reply, TestApp, api_tests, bytes, example_batch, now, reply};

const VALIDATOR: &str = "openapi-spec-validator==0.9.0";

fn document(app: &TestApp) -> Value {
    let r = app.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    r.body
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    doc["paths"].get(path)?.get(method.to_lowercase())
}

/// The security scheme names an operation accepts (any of its requirements).
fn schemes(op: &Value) -> BTreeSet<String> {
    op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|req| req.as_object().unwrap().keys().cloned())
        .collect()
}

/// A concrete URL for a route template: ids that exist nowhere, a real documentation file.
fn concrete(path: &str) -> String {
    let id = Uuid::new_v4().to_string();
    path.replace("/servers/{id}", "/servers/999999")
        .replace("{id}", &id)
        .replace("{collector_id}", &id)
        .replace("{file}", "index.html")
}

api_tests! {
    fn the_document_validates_and_covers_every_route_with_its_access(on) {
        let app = TestApp::spawn(on);
        let doc = document(&app);

        // A validator that knows the OpenAPI 3.1 specification accepts it.
        let file = app.data_dir.path().join("openapi.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let out = Command::new(python_tool(VALIDATOR, "openapi-spec-validator"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openapi-spec-validator rejects the document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(doc["openapi"], "3.1.0");
        // The CLI prints the same document the server serves.
        let printed: Value = serde_json::from_str(&app.cli(&["openapi"])).unwrap();
        assert_eq!(printed, doc);

        // Every route of the table the router is built from is documented, with the right
        // security; nothing else is.
        let mut ids = BTreeSet::new();
        for route in ROUTES {
            let op = operation(&doc, route.method, route.path)
                .unwrap_or_else(|| panic!("{route:?} is missing from the OpenAPI document"));
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "{route:?}: operationId {} is used twice",
                op["operationId"]
            );
            assert!(op["summary"].is_string(), "{route:?} has no summary");
            let s = schemes(op);
            let (want, errors): (&[&str], &[&str]) = match route.access {
                Access::Public => (&[], &["429", "503"]),
                Access::RegistrationToken => (&["registration_token"], &["401", "429", "503"]),
                Access::Collector | Access::CollectorCertificate => {
                    (&["collector_certificate"], &["401", "403", "429", "503"])
                }
                Access::Person(_) => (&["api_key", "bearer"], &["401", "403", "429", "503"]),
            };
            for scheme in want {
                assert!(
                    s.contains(*scheme),
                    "{route:?}: security {s:?} lacks {scheme}"
                );
            }
            if route.access == Access::Public {
                assert!(s.is_empty(), "{route:?} is public but documents {s:?}");
            }
            for status in errors {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{route:?} does not document {status}"
                );
            }
            if route.path.contains('{') {
                assert!(op["responses"].get("404").is_some(), "{route:?}: no 404");
            }
        }
        let table: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_lowercase(), r.path.to_owned()))
            .collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    table.contains(&(method.clone(), path.clone())),
                    "the document has {method} {path}, which no route serves"
                );
            }
        }

        // The one error shape, referenced by the shared error answers.
        let error = &doc["components"]["schemas"]["ErrorBody"];
        assert_eq!(error["required"], json!(["error"]));
        let unauthorized = &doc["components"]["responses"]["Unauthorized"];
        assert_eq!(
            unauthorized["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        for scheme in [
            "bearer",
            "api_key",
            "registration_token",
            "collector_certificate",
            "collector_token",
        ] {
            assert!(doc["components"]["securitySchemes"].get(scheme).is_some());
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["collector_certificate"]["type"],
            "mutualTLS"
        );

        // Walk the router: every route answers at its concrete path (never the "no route"
        // 404), and anonymously it is refused exactly when the table says it needs a credential.
        for route in ROUTES {
            let r = app.call(route.method, &concrete(route.path), None, None);
            let message = r.body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                !message.starts_with("no route for"),
                "{route:?} is in the table but the router does not serve it: {}",
                r.body
            );
            let refused = r.status == 401;
            assert_eq!(
                refused,
                route.access != Access::Public,
                "{route:?} answered an anonymous call with {}: {}",
                r.status,
                r.body
            );
        }
    }
}

/// One recorded answer: method, route template, status and body.
struct Answers(Vec<Value>);

impl Answers {
    fn record(&mut self, method: &str, template: &str, r: &Reply) -> Value {
        self.0.push(json!({
            "method": method, "path": template, "status": r.status, "body": r.body,
        }));
        r.body.clone()
    }
}

api_tests! {
    fn real_answers_conform_to_the_document(on) {
        let app = TestApp::spawn(on);
        let doc = document(&app);
        let mut a = Answers(Vec::new());
        let bearer = |t: &str| format!("Bearer {t}");

        // People: login, refresh, who am I, users, passwords.
        let login = app.login("admin", ADMIN_PASSWORD);
        let session = a.record("POST", "/api/v1/auth/login", &login);
        let bad_login = app.login("admin", "not-the-password-at-all");
        a.record("POST", "/api/v1/auth/login", &bad_login);
        let refreshed = app.call(
            "POST",
            "/api/v1/auth/refresh",
            None,
            Some(&json!({ "refresh_token": session["refresh_token"] })),
        );
        let session = a.record("POST", "/api/v1/auth/refresh", &refreshed);
        let access = bearer(session["access_token"].as_str().unwrap());
        let admin = Some(("Authorization", access.as_str()));
        let token = app.api_token.clone();
        let script = Some(("X-API-Key", token.as_str()));
        let call = |method: &str, template: &str, path: &str, auth, body: Option<&Value>| {
            (
                method.to_owned(),
                template.to_owned(),
                app.call(method, path, auth, body),
            )
        };
        let mut calls = vec![
            call("GET", "/api/v1/auth/me", "/api/v1/auth/me", admin, None),
            call("GET", "/api/v1/auth/me", "/api/v1/auth/me", script, None),
            call("GET", "/api/v1/users", "/api/v1/users", admin, None),
            call("GET", "/api/v1/users", "/api/v1/users", None, None),
        ];
        // Created; the same name again (409); an invalid name; an unknown field.
        for body in [
            json!({ "username": "grace", "role": "viewer" }),
            json!({ "username": "grace", "role": "viewer" }),
            json!({ "username": "bad name!", "role": "viewer" }),
            json!({ "username": "x", "role": "viewer", "extra": 1 }),
        ] {
            calls.push(call(
                "POST",
                "/api/v1/users",
                "/api/v1/users",
                admin,
                Some(&body),
            ));
        }
        let created = &calls[4].2;
        assert_eq!(created.status, 201, "{}", created.body);
        let grace = created.body["id"].as_str().unwrap().to_owned();
        let user_path = format!("/api/v1/users/{grace}");
        calls.extend([
            call("GET", "/api/v1/users/{id}", &user_path, admin, None),
            call(
                "GET",
                "/api/v1/users/{id}",
                &format!("/api/v1/users/{}", Uuid::new_v4()),
                admin,
                None,
            ),
            call(
                "PATCH",
                "/api/v1/users/{id}",
                &user_path,
                admin,
                Some(&json!({ "role": "user" })),
            ),
            call(
                "PUT",
                "/api/v1/users/{id}/password",
                &format!("{user_path}/password"),
                admin,
                Some(&json!({})),
            ),
            call(
                "PUT",
                "/api/v1/users/{id}/password",
                &format!("{user_path}/password"),
                admin,
                Some(&json!({ "password": "a-long-enough-passphrase" })),
            ),
        ]);
        let grace_login = app.login("grace", "a-long-enough-passphrase");
        let grace_token = bearer(grace_login.body["access_token"].as_str().unwrap());
        let grace_auth = Some(("Authorization", grace_token.as_str()));
        calls.extend([
            // A user may read but not manage users.
            call("GET", "/api/v1/users", "/api/v1/users", grace_auth, None),
            call(
                "PUT",
                "/api/v1/auth/password",
                "/api/v1/auth/password",
                grace_auth,
                Some(&json!({ "current_password": "a-long-enough-passphrase",
                              "new_password": "another-long-passphrase" })),
            ),
            call(
                "POST",
                "/api/v1/auth/logout",
                "/api/v1/auth/logout",
                script,
                None,
            ),
            call("DELETE", "/api/v1/users/{id}", &user_path, admin, None),
        ]);

        // Tokens and the audit log.
        let new_token = app.call(
            "POST",
            "/api/v1/api-tokens",
            admin,
            Some(&json!({ "name": "grafana", "role": "viewer", "expires_in_days": 30 })),
        );
        a.record("POST", "/api/v1/api-tokens", &new_token);
        let token_id = new_token.body["id"].as_str().unwrap().to_owned();
        calls.extend([
            call(
                "GET",
                "/api/v1/api-tokens",
                "/api/v1/api-tokens",
                admin,
                None,
            ),
            call(
                "DELETE",
                "/api/v1/api-tokens/{id}",
                &format!("/api/v1/api-tokens/{token_id}"),
                admin,
                None,
            ),
            call(
                "POST",
                "/api/v1/registration-tokens",
                "/api/v1/registration-tokens",
                admin,
                Some(&json!({ "uses": 2, "expires_in_hours": 1 })),
            ),
            call(
                "GET",
                "/api/v1/audit-log",
                "/api/v1/audit-log?limit=5",
                admin,
                None,
            ),
            call(
                "GET",
                "/api/v1/audit-log",
                "/api/v1/audit-log?since=yesterday",
                admin,
                None,
            ),
            call("GET", "/api/v1/health", "/api/v1/health", None, None),
        ]);

        // The agent's side: enrolment, configuration, a push, a token, a renewal.
        let c = app.register("db1");
        let collector = app.collector_client(&c);
        let with_cert = |method: &str, path: &str, token: Option<&str>, body: Option<&Value>| {
            let mut req = ureq::http::Request::builder()
                .method(method)
                .uri(app.url(path));
            if let Some(t) = token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            let body = body
                .map(|b| serde_json::to_vec(b).unwrap())
                .unwrap_or_default();
            reply(
                collector.run(
                    req.header("Content-Type", "application/json")
                        .body(body)
                        .unwrap(),
                ),
            )
        };
        let (_, reg_csr) = pganalytics_adapters::pki::new_key_and_csr("db2").unwrap();
        let reg_token = app.registration_token(1);
        let registered = app.register_with(&reg_token, "db2", Some(&reg_csr));
        a.record("POST", "/api/v1/collectors/register", &registered);
        let again = app.register_with(&reg_token, "db3", Some(&reg_csr));
        a.record("POST", "/api/v1/collectors/register", &again);
        let config_path = format!("/api/v1/config/{}", c.id);
        let config = with_cert("GET", &config_path, Some(&c.token), None);
        a.record("GET", "/api/v1/config/{collector_id}", &config);
        let pushed = app.push(&c, &bytes(&example_batch(c.id, now())), "gzip");
        a.record("POST", "/api/v1/metrics/push", &pushed);
        let rejected = app.push(&c, b"{\"not\": \"a batch\"}", "identity");
        a.record("POST", "/api/v1/metrics/push", &rejected);
        let fresh = with_cert(
            "POST",
            &format!("/api/v1/collectors/{}/token", c.id),
            None,
            None,
        );
        a.record("POST", "/api/v1/collectors/{id}/token", &fresh);
        let cert_path = format!("/api/v1/collectors/{}/certificate", c.id);
        let current = app.call("GET", &cert_path, None, None);
        a.record("GET", "/api/v1/collectors/{id}/certificate", &current);
        calls.extend([
            call(
                "GET",
                "/api/v1/collectors",
                "/api/v1/collectors",
                script,
                None,
            ),
            call(
                "GET",
                "/api/v1/collectors/{id}",
                &format!("/api/v1/collectors/{}", c.id),
                script,
                None,
            ),
            call(
                "PUT",
                "/api/v1/config/{collector_id}",
                &config_path,
                admin,
                Some(&json!({ "intervals": { "activity": 30 } })),
            ),
            call(
                "PUT",
                "/api/v1/config/{collector_id}",
                &config_path,
                admin,
                Some(&json!({ "intervals": { "nonsense": 30 } })),
            ),
            call("GET", "/api/v1/servers", "/api/v1/servers", script, None),
        ]);
        let servers = app.get("/api/v1/servers");
        let server = servers.body["servers"][0]["id"].as_i64().unwrap();
        calls.extend([
            call(
                "GET",
                "/api/v1/servers/{id}",
                &format!("/api/v1/servers/{server}"),
                script,
                None,
            ),
            call(
                "GET",
                "/api/v1/servers/{id}/metrics",
                &format!("/api/v1/servers/{server}/metrics?family=pg_database&step=5m"),
                script,
                None,
            ),
            call(
                "GET",
                "/api/v1/servers/{id}/metrics",
                &format!("/api/v1/servers/{server}/metrics?family=nope"),
                script,
                None,
            ),
        ]);
        let (_, csr) = pganalytics_adapters::pki::new_key_and_csr("db1").unwrap();
        let renewed = with_cert("POST", &cert_path, None, Some(&json!({ "csr": csr })));
        a.record("POST", "/api/v1/collectors/{id}/certificate", &renewed);
        calls.push(call(
            "DELETE",
            "/api/v1/collectors/{id}",
            &format!("/api/v1/collectors/{}", c.id),
            admin,
            None,
        ));

        for (method, template, r) in &calls {
            a.record(method, template, r);
        }
        // The walk reached successes and errors alike.
        let statuses: BTreeSet<u64> = a.0.iter().map(|x| x["status"].as_u64().unwrap()).collect();
        for s in [200, 201, 204, 400, 401, 403, 404, 409] {
            assert!(
                statuses.contains(&s),
                "no {s} answer was checked: {statuses:?}"
            );
        }

        let checker = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/check_answers.py");
        let validator = python_tool(VALIDATOR, "openapi-spec-validator");
        let python = validator.with_file_name("python3");
        let mut child = Command::new(python)
            .arg(checker)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&json!({ "document": doc, "answers": a.0 })).unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "answers that do not conform to the OpenAPI document:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Every answer with a body was checked against a schema.
        let with_body = a.0.iter().filter(|x| !x["body"].is_null()).count();
        assert_eq!(stdout.trim(), format!("checked {with_body}"));
        assert!(with_body >= 40, "{with_body}");
    }
}

api_tests! {
    fn the_swagger_page_and_every_file_it_loads_come_from_the_server(on) {
        let app = TestApp::spawn(on);
        let root = app.call("GET", "/swagger", None, None);
        assert_eq!(root.status, 308);
        assert_eq!(root.headers["location"], "/swagger/index.html");

        let page = app.call("GET", "/swagger/index.html", None, None);
        assert_eq!(page.status, 200);
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"));
        let html = page.body.as_str().unwrap().to_owned();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );

        // Every script, style and icon the page references is served here.
        let mut assets = Vec::new();
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                assets.push(target.trim_start_matches("./").to_owned());
            }
        }
        assert!(assets.len() >= 5, "{assets:?}");
        for asset in &assets {
            let r = reply(
                app.client()
                    .get(&app.url(&format!("/swagger/{asset}")))
                    .call(),
            );
            assert_eq!(r.status, 200, "/swagger/{asset}");
            let kind = r.headers["content-type"].to_str().unwrap().to_owned();
            let want = match asset.rsplit('.').next() {
                Some("js") => "javascript",
                Some("css") => "text/css",
                Some("png") => "image/png",
                other => panic!("unexpected asset {asset} ({other:?})"),
            };
            assert!(kind.contains(want), "{asset}: {kind}");
        }
        // The page reads the server's own document and calls no public validator.
        let init = app.call("GET", "/swagger/swagger-initializer.js", None, None);
        let js = init.body.as_str().unwrap();
        assert!(js.contains("\"/api/v1/openapi.json\""), "{js}");
        assert!(js.contains("\"validatorUrl\": \"none\""), "{js}");

        let missing = app.call("GET", "/swagger/nope.js", None, None);
        assert_eq!(
            (missing.status, missing.body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
    }
}
