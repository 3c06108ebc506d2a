use crate::helpers::{TestApp, api_tests, bytes, example_batch, now};

api_tests! {
    fn a_batch_pushed_gzip_and_zstd_lands_in_the_family_tables(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let first = app.push_example(&c);
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.body["status"], "ok");
        assert_eq!(first.body["metrics_inserted"], 11);
        assert_eq!(first.body["families"]["pg_table"], 2);
        assert_eq!(first.body["next_config_version"], 1);
        assert!(first.body["next_check_in_seconds"].as_u64().unwrap() > 0);
        assert!(first.body["processing_time_ms"].as_f64().unwrap() >= 0.0);

        let second = app.push(&c, &bytes(&example_batch(c.id, now())), "zstd");
        assert_eq!(second.status, 200, "{}", second.body);
        let third = app.push(&c, &bytes(&example_batch(c.id, now())), "identity");
        assert_eq!(third.status, 200, "{}", third.body);

        assert_eq!(app.count_rows("pg_database"), 6);
        assert_eq!(app.count_rows("pg_table"), 6);
        assert_eq!(app.count_rows("pg_log_event"), 6);
        assert_eq!(app.total_rows(), 33);
    }
}

api_tests! {
    fn replayed_batch_is_acknowledged_and_inserts_nothing(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let batch = bytes(&example_batch(c.id, now()));
        let first = app.push(&c, &batch, "gzip");
        let again = app.push(&c, &batch, "zstd");
        assert_eq!(again.status, 200);
        assert_eq!(again.body["status"], "duplicate");
        assert_eq!(
            again.body["metrics_inserted"],
            first.body["metrics_inserted"]
        );
        assert_eq!(again.body["families"], first.body["families"]);
        assert_eq!(app.total_rows(), 11);
    }
}

api_tests! {
    fn unknown_families_and_columns_from_a_newer_agent_are_skipped_and_reported(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let mut b = example_batch(c.id, now());
        b["metrics"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "family": "pg_stat_future", "instance": "main", "columns": ["x"], "rows": [[1]]
            }));
        b["metrics"][0]["columns"]
            .as_array_mut()
            .unwrap()
            .push("new_counter".into());
        for row in b["metrics"][0]["rows"].as_array_mut().unwrap() {
            row.as_array_mut().unwrap().push(7.into());
        }
        let r = app.push(&c, &bytes(&b), "gzip");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["skipped"]["families"],
            serde_json::json!(["pg_stat_future"])
        );
        assert_eq!(
            r.body["skipped"]["columns"],
            serde_json::json!(["pg_database.new_counter"])
        );
        assert_eq!(app.count_rows("pg_database"), 2);
    }
}

api_tests! {
    fn each_instance_becomes_a_server_on_first_sight(on) {
        let app = TestApp::spawn(on);
        let c = app.register("db1");
        let mut b = example_batch(c.id, now());
        b["metrics"][1]["instance"] = "replica:5433".into();
        assert_eq!(app.push(&c, &bytes(&b), "gzip").status, 200);
        let servers = app.get("/api/v1/servers").body["servers"]
            .as_array()
            .unwrap()
            .clone();
        let mut names: Vec<&str> = servers
            .iter()
            .map(|s| s["instance"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["main", "replica:5433"]);
        assert!(
            servers
                .iter()
                .all(|s| s["collector_id"] == c.id.to_string() && s["last_seen"].is_string())
        );
    }
}

api_tests! {
    /// Regression guard for issue 11 (finding 6): collector B's batch carrying an id collector
    /// A already used is B's own batch, stored, not a "duplicate" of A's.
    fn a_batch_id_is_deduplicated_per_collector(on) {
        let app = TestApp::spawn(on);
        let (a, b) = (app.register("db1"), app.register("db2"));
        let mut batch = example_batch(a.id, now());
        assert_eq!(app.push(&a, &bytes(&batch), "gzip").body["status"], "ok");
        batch["collector_id"] = b.id.to_string().into();
        let theirs = app.push(&b, &bytes(&batch), "gzip");
        assert_eq!(
            (theirs.status, theirs.body["status"].as_str()),
            (200, Some("ok")),
            "{}",
            theirs.body
        );
        assert_eq!(app.total_rows(), 22, "both batches are stored");
        let again = app.push(&b, &bytes(&batch), "zstd");
        assert_eq!(again.body["status"], "duplicate");
        assert_eq!(app.total_rows(), 22);
    }
}
