use crate::helpers::{TestApp, api_tests, reply};

api_tests! {
    fn a_revoked_collector_is_refused_at_once_with_its_certificate_and_token(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        assert_eq!(app.push_example(&c).status, 200);
        let before = app.total_rows();

        let r = app.delete(&format!("/api/v1/collectors/{}", c.id));
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("revoked"))
        );

        let push = app.push_example(&c);
        assert_eq!(
            (push.status, push.body["error"]["code"].as_str()),
            (403, Some("collector_revoked"))
        );
        let refresh = reply(
            app.collector_client(&c)
                .post(&app.url(&format!("/api/v1/collectors/{}/token", c.id)))
                .send_empty(),
        );
        assert_eq!(refresh.status, 403);
        assert_eq!(app.total_rows(), before);
    }
}

api_tests! {
    fn revoking_needs_an_api_token_and_an_existing_collector(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let anon = reply(
            app.client()
                .delete(&app.url(&format!("/api/v1/collectors/{}", c.id)))
                .call(),
        );
        assert_eq!(anon.status, 401);
        assert_eq!(
            app.delete(&format!("/api/v1/collectors/{}", uuid::Uuid::new_v4()))
                .status,
            404
        );
        assert_eq!(app.delete("/api/v1/collectors/not-a-uuid").status, 404);
    }
}
