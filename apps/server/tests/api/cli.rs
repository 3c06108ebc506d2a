//! The server's command line against a running server's data directory and database: what
//! it prints works at once. PostgreSQL only: the commands open the database of the data
//! directory, which a memory server has not.

use crate::helpers::{On, TestApp};

#[test]
fn tokens_and_users_made_by_the_cli_work_on_the_running_server() {
    let app = TestApp::spawn(On::Postgres);
    let reg = app.cli(&[
        "registration-token",
        "create",
        "--uses",
        "1",
        "--ttl",
        "10m",
    ]);
    let (_, csr) = pganalytics_adapters::pki::new_key_and_csr("from-cli").unwrap();
    let r = app.register_with(&reg, "from-cli", Some(&csr));
    assert_eq!(r.status, 201, "{}", r.body);

    let viewer = app.cli(&["api-token", "create", "--name", "cli", "--role", "viewer"]);
    let servers = app.call("GET", "/api/v1/servers", Some(("X-API-Key", &viewer)), None);
    assert_eq!(servers.status, 200, "{}", servers.body);
    let denied = app.call("GET", "/api/v1/users", Some(("X-API-Key", &viewer)), None);
    assert_eq!(denied.status, 403);

    let password = app.cli(&["user", "add", "dora", "--role", "user"]);
    assert_eq!(app.login("dora", &password).status, 200);
    let listed = app.cli(&["user", "list"]);
    assert!(
        listed.lines().any(|l| l == "dora\tuser\tactive"),
        "{listed}"
    );
}

/// `rules check` and `rules test`, as a CI job of someone's own rules runs them: no server,
/// no database, exit status 1 with each problem on its line.
#[test]
fn rule_files_are_checked_and_tested_from_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_pganalytics-server");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[
        "rules",
        "check",
        "domain/rules/postgresql.toml",
        "domain/rules/host.toml",
        "domain/rules/pganalytics.toml",
        "docs/examples/rules/team-rules.toml",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&["rules", "test", "docs/examples/rules/team-rules.test.toml"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches(": ok").count(), 2, "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\nname = \"x\"\nseverity = \"warning\"\nfor = \"soon\"\nsummary = \"s\"\n[rule.condition]\ntype = \"metric\"\nfamily = \"sys_load\"\ncolumn = \"load1\"\nop = \">\"\nthreshold = 1\n").unwrap();
    let (code, err) = run(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("bad.toml:4:7:") && err.contains("not a duration"),
        "{err}"
    );

    // A test whose expectation the rule does not meet fails, saying what it got.
    let rules =
        std::fs::read_to_string(format!("{root}/docs/examples/rules/team-rules.toml")).unwrap();
    std::fs::write(
        dir.path().join("team-rules.toml"),
        rules.replace("threshold = 120\n", "threshold = 600\n"),
    )
    .unwrap();
    std::fs::copy(
        format!("{root}/docs/examples/rules/team-rules.test.toml"),
        dir.path().join("t.toml"),
    )
    .unwrap();
    let (code, err) = run(&["rules", "test", dir.path().join("t.toml").to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("at 6m: expected app_idle_in_transaction firing"),
        "{err}"
    );
}
