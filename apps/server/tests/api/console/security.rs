//! The console's guards: the session cookie's flags, CSRF tokens and the page's origin on
//! every change, the role on every page and action (whatever the URL), throttled sign-ins,
//! sessions that end, and the Content-Security-Policy with no external URL on any page.

use serde_json::json;

use super::{Browser, Page, cookie_value};
use crate::helpers::*;

/// A user with `role`: (name, password).
pub fn user(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let r = app.call(
        "POST",
        "/api/v1/users",
        Some(("Authorization", &format!("Bearer {}", app.api_token))),
        Some(&json!({ "username": name, "role": role })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    (
        name.to_owned(),
        r.body["password"].as_str().unwrap().to_owned(),
    )
}

/// A rule named `load_high`, created through the API.
pub fn rule(app: &TestApp) {
    let rule = json!({
        "name": "load_high", "severity": "warning", "for": "1m",
        "summary": "{{ server }}: load {{ value }}",
        "condition": {"type": "metric", "family": "sys_load", "column": "load1",
                      "window": "2m", "op": ">", "threshold": 5}
    });
    let r = app.call(
        "POST",
        "/api/v1/alert-rules",
        Some(("Authorization", &format!("Bearer {}", app.api_token))),
        Some(&rule),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Every page a person can open, for a server `id` that has data.
pub fn pages(id: i64) -> Vec<String> {
    [
        "/console/fleet",
        "/console/fleet?sort=tps&desc=1&state=up&q=main",
        "/console/servers/{id}",
        "/console/servers/{id}?range=7d",
        "/console/servers/{id}?from=2026-01-01T00:00:00Z&to=2026-01-01T06:00:00Z",
        "/console/servers/{id}/queries",
        "/console/servers/{id}/queries?range=24h&sort=calls",
        "/console/servers/{id}/tables",
        "/console/logs",
        "/console/logs?severity=ERROR&q=relation",
        "/console/alerts",
        "/console/admin",
        "/console/alerts/rules/load_high",
        "/console/sign-in",
    ]
    .iter()
    .map(|p| p.replace("{id}", &id.to_string()))
    .collect()
}

/// What a page must not hold: a URL to anywhere but this server, inline script or style, or
/// an inline event handler.
pub fn check_self_contained(path: &str, page: &Page, own: &str) {
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("default-src 'none'")
            && !csp.contains("unsafe-inline")
            && !csp.contains("unsafe-eval"),
        "{path}: CSP {csp:?}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    let body = &page.body;
    // No attribute points elsewhere (links, forms, scripts, styles, images); text may
    // mention a URL (a runbook in a rule), which loads nothing.
    for quote in ["=\"", "='"] {
        for (at, _) in body.match_indices(quote) {
            let value = &body[at + 2..];
            let external = ["http:", "https:", "//", "ftp:", "data:", "javascript:"]
                .iter()
                .any(|s| value.starts_with(s));
            assert!(
                !external || value.starts_with(own),
                "{path}: external URL in an attribute: {:?}",
                &value[..value.len().min(80)]
            );
        }
    }
    let lower = body.to_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/console/assets/"),
            "{path}: inline script {tag}"
        );
    }
    assert!(!lower.contains("<style"), "{path}: inline style element");
    assert!(
        !lower.contains(" style=\""),
        "{path}: inline style attribute"
    );
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " onchange=",
    ] {
        assert!(!lower.contains(handler), "{path}: {handler}");
    }
}

api_tests! {
    /// The session cookie is `__Host-`, `HttpOnly`, `Secure`, `SameSite=Strict`; without it
    /// every page sends the browser to the sign-in form and back; the form itself needs its
    /// one-time value; a wrong password is 401 and repeated ones are throttled.
    fn signing_in_sets_a_strict_cookie_and_every_page_needs_it(on) {
        let app = TestApp::spawn(on);
        let anonymous = Browser::new(&app);
        let r = anonymous.get("/console/servers/1?range=24h");
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), "/console/sign-in?next=%2Fconsole%2Fservers%2F1%3Frange%3D24h");
        assert_eq!(anonymous.get("/").header("location"), "/console/fleet");

        let form = anonymous.get("/console/sign-in");
        let nonce = form.cookies().into_iter().find(|c| c.starts_with("__Host-pga_signin=")).unwrap();
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(nonce.contains(flag), "{nonce}");
        }
        // Without the form's cookie (a form posted from another site): refused.
        let forged = anonymous.send(
            "POST",
            "/console/sign-in",
            Some(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("nonce", "x")]),
            None,
            true,
        );
        assert_eq!(forged.status, 403);
        assert!(cookie_value(&forged, "__Host-pga_session").is_none());

        let mut b = Browser::new(&app);
        let wrong = b.sign_in("admin", "not the password");
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("The user name or password is wrong."));
        let ok = b.sign_in("admin", ADMIN_PASSWORD);
        assert_eq!((ok.status, ok.header("location")), (303, "/console/fleet"));
        let session = ok.cookies().into_iter().find(|c| c.starts_with("__Host-pga_session=")).unwrap();
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(session.contains(flag), "{session}");
        }
        assert!(!session.contains("Domain="), "{session}");
        assert_eq!(b.get("/console/fleet").status, 200);
        assert_eq!(app.audit_count(Some("auth.login"), Some("success")), 1);

        // Failed sign-ins are throttled like API logins (per account and address).
        let mut throttled = None;
        for _ in 0..20 {
            let r = Browser::new(&app).sign_in("admin", "still wrong");
            if r.status == 429 {
                throttled = Some(r);
                break;
            }
            assert_eq!(r.status, 401);
        }
        let t = throttled.expect("throttled within 20 failures");
        assert!(t.body.contains("Too many failed logins"), "{}", t.body);
    }

    /// A change needs the session's CSRF token and the page's own origin; a refused one is
    /// audited and changes nothing.
    fn every_change_needs_the_csrf_token_and_this_origin(on) {
        let app = TestApp::spawn(on);
        let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        let silence = [("matchers", "rule=x"), ("hours", "1"), ("comment", "c")];
        let silences = || app.call("GET", "/api/v1/silences", Some(("Authorization", &format!("Bearer {}", app.api_token))), None).body.as_array().unwrap().len();

        let no_token = b.send("POST", "/console/silences", Some(&silence), None, true);
        assert_eq!(no_token.status, 403, "{}", no_token.body);
        assert!(no_token.body.contains("CSRF"), "{}", no_token.body);
        let mut wrong = silence.to_vec();
        wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(b.send("POST", "/console/silences", Some(&wrong), None, true).status, 403);
        let mut right = silence.to_vec();
        let csrf = b.csrf.clone().unwrap();
        right.push(("csrf", &csrf));
        let elsewhere = b.send("POST", "/console/silences", Some(&right), None, false);
        assert_eq!(elsewhere.status, 403, "no Origin nor Referer: refused");
        assert_eq!(silences(), 0);
        assert_eq!(app.audit_count(Some("POST /console/silences"), Some("denied")), 2);

        let ok = b.post("/console/silences", &silence);
        assert_eq!((ok.status, ok.header("location")), (303, "/console/alerts#silences"));
        assert_eq!(silences(), 1);
        assert_eq!(app.audit_count(Some("silence.create"), Some("success")), 1);

        // Another session's token does not fit this one.
        let other = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        assert_ne!(other.csrf, b.csrf);
        let mut foreign = silence.to_vec();
        let theirs = other.csrf.clone().unwrap();
        foreign.push(("csrf", &theirs));
        assert_eq!(b.send("POST", "/console/silences", Some(&foreign), None, true).status, 403);
    }

    /// A viewer reads every page but the admin page, and no action works for them, by form
    /// or by URL; a user acknowledges and silences but may not touch rules or collectors.
    fn roles_hold_whatever_the_url(on) {
        let app = TestApp::spawn(on);
        rule(&app);
        let c = app.register("db1");
        assert_eq!(app.push_example(&c).status, 200);
        let (name, password) = user(&app, "vera", "viewer");
        let v = Browser::signed_in(&app, &name, &password);
        assert!(!v.get("/console/fleet").body.contains("/console/admin\""), "no admin link for a viewer");
        let admin = v.get("/console/admin");
        assert_eq!(admin.status, 403);
        assert!(admin.body.contains("viewer role may not"), "{}", admin.body);
        for (path, form) in [
            ("/console/admin/registration-tokens", vec![("uses", "1"), ("hours", "1")]),
            (&*format!("/console/admin/collectors/{}/revoke", c.id), vec![]),
            ("/console/silences", vec![("matchers", "rule=x"), ("hours", "1")]),
            ("/console/alerts/abc/ack", vec![("comment", "")]),
            ("/console/alerts/rules/load_high/disable", vec![]),
        ] {
            let r = v.post(path, &form);
            assert_eq!(r.status, 403, "{path}: {}", r.body);
        }
        assert_eq!(v.get("/console/alerts/rules/load_high").status, 403);
        let alerts = v.get("/console/alerts");
        assert_eq!(alerts.status, 200);
        assert!(!alerts.body.contains("Acknowledge") && !alerts.body.contains(">Disable<"));

        let (name, password) = user(&app, "uma", "user");
        let u = Browser::signed_in(&app, &name, &password);
        assert_eq!(u.get("/console/admin").status, 403);
        assert_eq!(u.post("/console/alerts/rules/load_high/disable", &[]).status, 403);
        assert_eq!(u.post("/console/silences", &[("matchers", "rule=x"), ("hours", "1")]).status, 303);
        assert_eq!(app.call("GET", &format!("/api/v1/collectors/{}", c.id), Some(("Authorization", &format!("Bearer {}", app.api_token))), None).body["status"], "active");
    }

    /// Signing out ends the session for good; so do a disabled account and the session's
    /// end; a tampered cookie is no session.
    fn sessions_end(on) {
        let app = TestApp::spawn(on);
        let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        let out = b.post("/console/sign-out", &[]);
        assert_eq!((out.status, out.header("location")), (303, "/console/sign-in"));
        assert!(out.cookies().iter().any(|c| c.starts_with("__Host-pga_session=;") && c.contains("Max-Age=0")));
        assert_eq!(b.get("/console/fleet").status, 303, "the old cookie no longer works");

        let (name, password) = user(&app, "dora", "user");
        let d = Browser::signed_in(&app, &name, &password);
        let id = app.call("GET", "/api/v1/users", Some(("Authorization", &format!("Bearer {}", app.api_token))), None)
            .body["users"].as_array().unwrap().iter().find(|u| u["username"] == "dora").unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(app.call("PATCH", &format!("/api/v1/users/{id}"), Some(("Authorization", &format!("Bearer {}", app.api_token))), Some(&json!({"active": false}))).status, 200);
        assert_eq!(d.get("/console/fleet").status, 303, "a disabled account's session ends");

        let e = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        let mut tampered = Browser::new(&app);
        let c = e.cookie.clone().unwrap();
        tampered.cookie = Some(format!("{}x", &c[..c.len() - 1]));
        assert_eq!(tampered.get("/console/fleet").status, 303);
        app.advance(time::Duration::hours(12));
        assert_eq!(e.get("/console/fleet").status, 303, "a console session lasts 12 hours");
    }

    /// Every page: the console's CSP, the API's security headers, and nothing that loads
    /// from or links to another site; the assets too.
    fn every_page_is_self_contained(on) {
        let app = TestApp::spawn(on);
        rule(&app);
        let c = app.register("db1");
        assert_eq!(app.push_example(&c).status, 200);
        let id = app.call("GET", "/api/v1/servers", Some(("Authorization", &format!("Bearer {}", app.api_token))), None).body["servers"][0]["id"].as_i64().unwrap();
        let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD);
        let own = app.url("");
        for path in pages(id) {
            let page = b.get(&path);
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            check_self_contained(&path, &page, &own);
        }
        let token = b.post("/console/admin/registration-tokens", &[("uses", "2"), ("hours", "4")]);
        assert_eq!(token.status, 200, "{}", token.body);
        check_self_contained("registration token", &token, &own);
        assert!(token.body.contains("pganalytics-agent register --server"), "{}", token.body);
        assert!(token.body.contains("BEGIN CERTIFICATE"));
        for asset in ["console.css", "console.js", "favicon.svg"] {
            let a = b.get(&format!("/console/assets/{asset}"));
            assert_eq!(a.status, 200, "{asset}");
            assert!(a.header("cache-control").contains("max-age"), "{asset}");
            assert!(!a.body.contains("url(") && !a.body.contains("@import"), "{asset} loads nothing");
        }
        let missing = b.get("/console/nope");
        assert_eq!(missing.status, 404);
        assert!(missing.header("content-security-policy").contains("script-src 'self'"));
    }
}
