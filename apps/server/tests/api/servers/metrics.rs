use crate::helpers::{TestApp, api_tests, bytes, example_batch, now, reply};
use time::format_description::well_known::Rfc3339;

api_tests! {
    fn the_query_returns_counter_rates_and_gauges_per_label_set(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let t1 = now() - time::Duration::minutes(3);
        let t0 = t1 - time::Duration::seconds(60);
        let first = example_batch(c.id, t0);
        let mut second = example_batch(c.id, t1);
        // xact_commit of "postgres" grows by 600 in 60 s: 10 per second.
        second["metrics"][0]["rows"][0][2] =
            (first["metrics"][0]["rows"][0][2].as_i64().unwrap() + 600).into();
        assert_eq!(app.push(&c, &bytes(&first), "gzip").status, 200);
        assert_eq!(app.push(&c, &bytes(&second), "gzip").status, 200);

        let server = app.get("/api/v1/servers").body["servers"][0]["id"]
            .as_i64()
            .unwrap();
        let from = (t0 - time::Duration::minutes(1)).format(&Rfc3339).unwrap();
        let to = now().format(&Rfc3339).unwrap();
        let q = format!(
            "/api/v1/servers/{server}/metrics?family=pg_database&columns=xact_commit,size_bytes&from={from}&to={to}&step=5m"
        );
        let r = app.get(&q.replace('+', "%2B"));
        assert_eq!(r.status, 200, "{}", r.body);
        let series = r.body["series"].as_array().unwrap();
        let rate = series
            .iter()
            .find(|s| s["column"] == "xact_commit" && s["labels"]["datname"] == "postgres")
            .unwrap();
        assert_eq!(rate["unit"], "per_second");
        assert_eq!(rate["points"][0][1].as_f64().unwrap(), 10.0);
        let size = series
            .iter()
            .find(|s| s["column"] == "size_bytes" && s["labels"]["datname"] == "app")
            .unwrap();
        assert_eq!(size["unit"], "value");
        assert_eq!(size["points"][0][1].as_f64().unwrap(), 2_147_483_648.0);
    }
}

api_tests! {
    fn bad_queries_are_400s_and_unknown_servers_404s(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        assert_eq!(app.push_example(&c).status, 200);
        let server = app.get("/api/v1/servers").body["servers"][0]["id"]
            .as_i64()
            .unwrap();
        let code = |path: String| {
            let r = app.get(&path);
            (
                r.status,
                r.body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        assert_eq!(
            code(format!("/api/v1/servers/{server}/metrics?family=nope")),
            (400, "unknown_family".into())
        );
        assert_eq!(
            code(format!(
                "/api/v1/servers/{server}/metrics?family=pg_database&columns=datname"
            )),
            (400, "unknown_column".into())
        );
        assert_eq!(
            code(format!(
                "/api/v1/servers/{server}/metrics?family=pg_database&step=1s&from=2026-01-01T00:00:00Z"
            )),
            (400, "invalid_range".into())
        );
        assert_eq!(
            code(format!("/api/v1/servers/{server}/metrics")),
            (400, "invalid_query".into())
        );
        assert_eq!(
            code("/api/v1/servers/999999/metrics?family=pg_database".into()),
            (404, "not_found".into())
        );
        assert_eq!(app.get(&format!("/api/v1/servers/{server}")).status, 200);
    }
}

api_tests! {
    fn read_endpoints_need_a_valid_credential(on) {
        let app = TestApp::spawn(on);
        let anon = reply(app.client().get(&app.url("/api/v1/servers")).call());
        assert_eq!(
            (anon.status, anon.body["error"]["code"].as_str()),
            (401, Some("authentication_required"))
        );
        let bad = reply(
            app.client()
                .get(&app.url("/api/v1/servers"))
                .header("Authorization", "Bearer pga_nope")
                .call(),
        );
        assert_eq!(
            (bad.status, bad.body["error"]["code"].as_str()),
            (401, Some("invalid_api_token"))
        );
    }
}
