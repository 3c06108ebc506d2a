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
