//! Faults: the database going away mid-run. PostgreSQL only: the memory backend has no
//! database to lose.

use crate::alerts::leader::{start_in, wait_until};
use crate::helpers::{
    TestApp, bytes, example_batch, hold_advisory_lock, now, private_cluster, reply, sql_exec,
    sql_i64,
};

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

/// Exactly-once across a crash: a server killed (SIGKILL) after its group's COPY and before
/// the commit stores nothing; the agent, which got no answer, pushes again (here to
/// another server on the same database) and the batch is stored once.
#[test]
fn a_server_killed_between_copy_and_commit_stores_nothing_and_the_retry_is_stored_once() {
    let (_cluster, url) = private_cluster();
    let app = TestApp::spawn_on(url.clone(), None);
    let c = app.register("db1");
    // The group's COPY into pg_database ends by waiting for a lock the test holds: the
    // rows are written, the commit not yet sent.
    sql_exec(
        &url,
        "CREATE FUNCTION public.hold_before_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$",
    );
    sql_exec(
        &url,
        "CREATE TRIGGER hold_before_commit AFTER INSERT ON metrics.pg_database \
         FOR EACH STATEMENT EXECUTE FUNCTION public.hold_before_commit()",
    );
    let lock = hold_advisory_lock(&url, 4242);
    let mut server = start_in(app.data_dir.path(), &url, &[]);
    let batch = bytes(&example_batch(c.id, now()));
    let (agent, token, push_url) = (
        app.collector_client(&c),
        c.token.clone(),
        server.url("/api/v1/metrics/push"),
    );
    let body = batch.clone();
    let pusher = std::thread::spawn(move || {
        agent
            .post(&push_url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map(|r| r.status().as_u16())
    });
    let waiting_copy = "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                        AND query LIKE 'COPY metrics.pg_database%'";
    wait_until("the group's COPY to wait before its commit", || {
        sql_i64(&url, &format!("{waiting_copy} AND wait_event = 'advisory'")) == 1
    });
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(
        pusher.join().unwrap().is_err(),
        "the agent got no answer from the killed server"
    );
    drop(lock);
    wait_until("the killed server's session to end", || {
        sql_i64(&url, waiting_copy) == 0
    });
    assert_eq!(
        app.total_rows(),
        0,
        "nothing of the uncommitted group is stored"
    );
    assert_eq!(sql_i64(&url, "SELECT count(*) FROM ingested_batches"), 0);

    let retry = app.push(&c, &batch, "gzip");
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.body["status"], "ok");
    let again = app.push(&c, &batch, "gzip");
    assert_eq!(again.body["status"], "duplicate", "{}", again.body);
    assert_eq!(app.total_rows(), 11, "the batch's rows, once");
}
