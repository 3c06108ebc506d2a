//! Schemathesis against the server on PostgreSQL, as an attacker would run it: every
//! operation of the OpenAPI document with generated valid and invalid inputs, once with an
//! admin API token and once without credentials. It must find no 5xx, no status the
//! document does not describe, and no answer that does not match its schema (issue 11).
//!
//! Bounded: a fixed number of examples per operation and a time budget, so the whole test
//! takes a few minutes. Operations that would revoke the test's own credential (deleting API
//! tokens or users, logging out, changing passwords) are left out.

use std::process::Command;

use pganalytics_adapters::test_clusters::python_tool;

use crate::helpers::{On, TestApp};

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Operations that could take the test's own credential away mid-run.
const REVOKING: [&str; 6] = [
    "revoke_api_token",
    "delete_user",
    "update_user",
    "reset_user_password",
    "change_password",
    "logout",
];

fn schemathesis(app: &TestApp, auth: Option<&str>) -> (bool, String) {
    let st = python_tool(SCHEMATHESIS, "st");
    let ca = app.data_dir.path().join("schemathesis-ca.pem");
    std::fs::write(&ca, app.ca_pem()).unwrap();
    // No automatic sign-up: the API has no open registration, and the run's credential is
    // the one given.
    let config = app.data_dir.path().join("schemathesis.toml");
    std::fs::write(&config, "[auth]\nauto-signup = false\n").unwrap();
    let mut cmd = Command::new(st);
    cmd.arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--url", &app.url("")])
        .args(["--tls-verify"])
        .arg(&ca)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--max-time",
            "80",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
        ])
        // Its own settings and caches stay in the test's directory.
        .env("HOME", app.data_dir.path())
        .current_dir(app.data_dir.path());
    for id in REVOKING {
        cmd.args(["--exclude-operation-id", id]);
    }
    if let Some(token) = auth {
        cmd.args(["--header", &format!("X-API-Key: {token}")]);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn schemathesis_finds_no_server_error_undocumented_status_or_schema_mismatch() {
    let app = TestApp::spawn_with(On::Postgres, |s| {
        // Generated requests come fast; the limits themselves are tested elsewhere.
        s.rate_people_per_second = 100_000;
        s.rate_people_burst = 100_000;
        s.rate_ingest_per_second = 100_000;
        s.rate_ingest_burst = 100_000;
    });
    let c = app.register("db1");
    assert_eq!(app.push_example(&c).status, 200);
    let token = app.api_token.clone();
    for (who, auth) in [
        ("an admin API token", Some(token.as_str())),
        ("no credentials", None),
    ] {
        let (ok, report) = schemathesis(&app, auth);
        assert!(ok, "schemathesis with {who} found problems:\n{report}");
        assert!(
            report.contains("passed"),
            "schemathesis with {who} tested nothing:\n{report}"
        );
    }
}
