use crate::helpers::{TestApp, api_tests, reply};

api_tests! {
    fn health_reports_the_database_ok_without_credentials(on) {
        let app = TestApp::spawn(on);
        let r = reply(app.client().get(&app.url("/api/v1/health")).call());
        assert_eq!(r.status, 200);
        assert_eq!(r.body["database"], "ok");
    }
}

api_tests! {
    fn unknown_routes_are_json_404s(on) {
        let app = TestApp::spawn(on);
        let r = reply(app.client().get(&app.url("/api/v1/nope")).call());
        assert_eq!(r.status, 404);
        assert_eq!(r.body["error"]["code"], "not_found");
    }
}
