use crate::helpers::{TestApp, api_tests, reply};

api_tests! {
    fn a_fresh_token_is_issued_to_the_certificate_holder_only(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let path = app.url(&format!("/api/v1/collectors/{}/token", c.id));
        let ok = reply(app.collector_client(&c).post(&path).send_empty());
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert!(ok.body["token"].as_str().unwrap().starts_with("eyJ"));

        let without_cert = reply(app.client().post(&path).send_empty());
        assert_eq!(
            (
                without_cert.status,
                without_cert.body["error"]["code"].as_str()
            ),
            (401, Some("client_certificate_required"))
        );

        let other = app.register("db2");
        let wrong_cert = reply(app.collector_client(&other).post(&path).send_empty());
        assert_eq!(wrong_cert.status, 403);
    }
}
