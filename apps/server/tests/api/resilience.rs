//! Faults: the database going away mid-run. PostgreSQL only: the memory backend has no
//! database to lose.

use crate::helpers::{TestApp, bytes, example_batch, now, private_cluster, reply};

#[test]
fn a_database_outage_gives_503_with_retry_after_and_the_next_push_after_it_succeeds() {
    let (mut cluster, url) = private_cluster();
    let app = TestApp::spawn_on(url, None);
    let c = app.register("db1");
    assert_eq!(app.push_example(&c).status, 200);

    cluster.stop();
    let down = app.push_example(&c);
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.body["error"]["code"], "unavailable");
    assert!(down.headers.get("retry-after").is_some());
    let health = reply(app.client().get(&app.url("/api/v1/health")).call());
    assert_eq!(health.status, 503);

    cluster.restart().unwrap();
    let batch = bytes(&example_batch(c.id, now()));
    let up = app.push(&c, &batch, "gzip");
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["status"], "ok");
    assert_eq!(
        app.total_rows(),
        22,
        "the first and the post-outage batch, nothing from the failed one"
    );
}
