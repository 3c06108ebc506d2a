use crate::helpers::{TestApp, api_tests, reply};

api_tests! {
    fn a_collector_gets_its_config_with_an_etag_and_a_304_when_unchanged(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let client = app.collector_client(&c);
        let path = app.url(&format!("/api/v1/config/{}", c.id));
        let r = reply(
            client
                .get(&path)
                .header("Authorization", &format!("Bearer {}", c.token))
                .call(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["version"], 1);
        assert_eq!(r.body["intervals"]["activity"], 15);
        let etag = r.headers.get("etag").unwrap().to_str().unwrap().to_owned();

        let again = reply(
            client
                .get(&path)
                .header("Authorization", &format!("Bearer {}", c.token))
                .header("If-None-Match", &etag)
                .call(),
        );
        assert_eq!(again.status, 304);
        let stale = reply(
            client
                .get(&path)
                .header("Authorization", &format!("Bearer {}", c.token))
                .header("If-None-Match", "\"v0\"")
                .call(),
        );
        assert_eq!(stale.status, 200);
    }
}

api_tests! {
    fn a_collector_cannot_read_another_collectors_config(on) {
        let app = TestApp::spawn(on);
        let a = app.register("db1");
        let b = app.register("db2");
        let r = reply(
            app.collector_client(&a)
                .get(&app.url(&format!("/api/v1/config/{}", b.id)))
                .header("Authorization", &format!("Bearer {}", a.token))
                .call(),
        );
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (403, Some("wrong_collector"))
        );
    }
}
