use std::process::Command;

use crate::helpers::{On, TestApp, api_tests};

/// `promtool` comes with Debian's `prometheus` package.
fn promtool() -> std::path::PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "promtool is needed to check /metrics: install it with `apt-get install prometheus` \
             (Debian) or put Prometheus's promtool on PATH"
        )
    })
}

api_tests! {
    fn metrics_need_a_credential_and_promtool_accepts_them(on) {
        let app = TestApp::spawn(on);
        let c = app.register("measured");
        assert_eq!(app.push_example(&c).status, 200);
        assert_eq!(app.push(&c, b"{not json", "identity").status, 400);
        assert_eq!(app.call("GET", "/metrics", None, None).status, 401);
        let r = app.call("GET", "/metrics", Some(("X-API-Key", &app.api_token)), None);
        assert_eq!(r.status, 200);
        let text = r.body.as_str().unwrap().to_owned();
        let mut needles = vec![
            "pganalytics_http_requests_total{method=\"POST\",route=\"/api/v1/metrics/push\",status=\"200\"} 1",
            "pganalytics_http_request_duration_seconds_bucket{",
            "pganalytics_ingest_batches_total{outcome=\"stored\"} 1",
            "pganalytics_ingest_rows_total{family=\"pg_database\"}",
            "pganalytics_ingest_rejections_total{reason=\"malformed_batch\"} 1",
            "pganalytics_collectors{state=\"reporting\"} 1",
        ];
        // The memory backend has no connection pool to report.
        if on == On::Postgres {
            needles.push("pganalytics_db_pool_connections{pool=\"main\",state=\"max\"} 4");
        }
        for needle in needles {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let out = Command::new(promtool())
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(file.path()).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
