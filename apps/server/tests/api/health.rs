use crate::helpers::{TestApp, reply};

#[test]
fn health_reports_the_database_ok_without_credentials() {
    let app = TestApp::spawn();
    let r = reply(app.client().get(&app.url("/api/v1/health")).call());
    assert_eq!(r.status, 200);
    assert_eq!(r.body["database"], "ok");
}

#[test]
fn unknown_routes_are_json_404s() {
    let app = TestApp::spawn();
    let r = reply(app.client().get(&app.url("/api/v1/nope")).call());
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["code"], "not_found");
}
