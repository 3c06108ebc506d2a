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
                "/api/v1/servers/{server}/metrics?family=pg_database&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"
            )),
            (400, "invalid_range".into())
        );
        assert_eq!(
            code(format!(
                "/api/v1/servers/{server}/metrics?family=pg_database&step=0s"
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

api_tests! {
    fn answers_are_bounded_repeated_columns_count_once_and_too_many_points_are_400(on) {
        // Issue 11, finding 2: one column named 500 times over many label sets answered
        // series × 500; an answer had no cap on series × points.
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let mut batch = example_batch(c.id, now() - time::Duration::minutes(2));
        let template = batch["metrics"][0]["rows"][0].clone();
        batch["metrics"][0]["rows"] = (0..50)
            .map(|i| {
                let mut row = template.clone();
                row[0] = format!("db{i}").into();
                row
            })
            .collect();
        assert_eq!(app.push(&c, &bytes(&batch), "gzip").status, 200);
        let server = app.get("/api/v1/servers").body["servers"][0]["id"]
            .as_i64()
            .unwrap();

        let repeated = vec!["numbackends"; 500].join(",");
        let r = app.get(&format!(
            "/api/v1/servers/{server}/metrics?family=pg_database&columns={repeated}"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["series"].as_array().unwrap().len(), 50);

        // 50 series × 10,800 one-second steps = 540,000 points: over the 500,000 cap.
        let to = now();
        let from = (to - time::Duration::hours(3)).format(&Rfc3339).unwrap();
        let to = to.format(&Rfc3339).unwrap();
        let r = app.get(
            &format!(
                "/api/v1/servers/{server}/metrics?family=pg_database&columns=numbackends&from={from}&to={to}&step=1s"
            )
            .replace('+', "%2B"),
        );
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("query_too_large")),
            "{}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("500000 points"),
            "{}",
            r.body
        );
    }
}
