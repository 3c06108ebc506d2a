//! End to end on real PostgreSQL with the real agent (issue 12): a session idle in a
//! transaction, a blocked session, an inactive replication slot, a deadlock in the server
//! log, a stopped target and a killed agent each raise their built-in alert, and resolve
//! once the trouble is over.
//!
//! The built-ins are tuned for production (`for` of minutes, thresholds of minutes): the
//! test tunes them as a DBA would for a one-second agent, through the same use case the
//! API uses, and leaves their conditions alone.

mod common;

use common::{Server, agent_run, follow_log, wait_for};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};
use pganalytics_domain::alerts::Span;
use pganalytics_domain::alerts::rule::ConditionSpec;
use pganalytics_domain::alerts::state::Phase;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::config::Intervals;
use pganalytics_ports::store::AlertFilter;
use std::collections::BTreeSet;
use std::time::Duration;

/// Every built-in the scenarios raise, made quick: no `for`, no `min_firing`, short windows
/// and thresholds.
fn tune(server: &Server) {
    server.run(|uc, _| async move {
        let ctx = AuditContext::cli(Some("test".into()));
        for name in [
            "pg_idle_in_transaction",
            "pg_blocked_sessions",
            "pg_replication_slot_inactive",
            "pg_log_deadlock",
            "pg_target_unreachable",
            "agent_silent",
        ] {
            let mut spec = uc.rules.get(name).await.unwrap().spec;
            spec.for_ = Span::ZERO;
            spec.min_firing = Some(Span::ZERO);
            match &mut spec.condition {
                ConditionSpec::Metric(m) => {
                    m.window = Some(Span::seconds(4));
                    if name == "pg_idle_in_transaction" {
                        m.threshold = 2.0;
                    }
                }
                ConditionSpec::Log(l) => l.window = Span::seconds(20),
                _ => {}
            }
            uc.rules.update(&ctx, name, spec).await.unwrap();
        }
    });
}

/// The agent process, killed (SIGKILL) when dropped: also when the test fails.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Evaluates, and returns the rules with a firing alert.
fn firing(server: &Server) -> BTreeSet<String> {
    server.run(|uc, _| async move {
        uc.evaluate_alerts.run_once().await.unwrap();
        uc.alerts
            .list(&AlertFilter {
                phase: Some(Phase::Firing),
                limit: 1000,
                ..AlertFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.rule)
            .collect()
    })
}

fn wait_firing(server: &Server, rule: &str, on: bool) {
    let what = format!("{rule} {}", if on { "to fire" } else { "to resolve" });
    wait_for(&what, Duration::from_secs(90), || {
        firing(server).contains(rule) == on
    });
}

#[test]
fn real_trouble_raises_its_built_in_alert_and_resolves_when_it_ends() {
    let mut server = Server::start();
    let mut cluster = monitored_cluster(
        release_binaries(15),
        &[
            ("logging_collector", "on"),
            ("log_directory", "log"),
            ("log_line_prefix", "%m [%p] %q%u@%d "),
            ("lc_messages", "C"),
            ("deadlock_timeout", "100ms"),
        ],
    );
    let dsn = cluster.url("postgres");
    let state = tempfile::tempdir().unwrap();
    let collector = server.register(state.path(), "db1");
    // The server judges silence by the collector's configured intervals: one second.
    let id = CollectorId::parse(&collector).expect("register prints the collector's id");
    server.run(move |uc, _| async move {
        let one = Intervals {
            activity: 1,
            database: 1,
            replication: 1,
            host: 1,
            tables: 1,
            statements: 1,
            disk: 1,
        };
        uc.update_config
            .execute(&AuditContext::cli(None), id, one, BTreeSet::new())
            .await
            .unwrap();
    });
    tune(&server);
    let mut agent = Agent(agent_run(state.path(), &dsn).spawn().unwrap());
    follow_log(agent.0.stderr.take().unwrap(), |_| {});
    wait_for("the agent's first rows", Duration::from_secs(60), || {
        server.run(|uc, _| async move { !uc.servers.list().await.unwrap().is_empty() })
    });
    let scenarios = [
        "pg_idle_in_transaction",
        "pg_blocked_sessions",
        "pg_replication_slot_inactive",
        "pg_log_deadlock",
        "pg_target_unreachable",
        "agent_silent",
    ];
    let now = firing(&server);
    // A cluster that just started is rightly "restarted"; nothing of the scenarios fires.
    assert!(scenarios.iter().all(|r| !now.contains(*r)), "{now:?}");

    let mut admin = PgConnection::establish(&dsn).unwrap();
    admin
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0);
             CREATE TABLE pair (id int PRIMARY KEY, v int); INSERT INTO pair VALUES (10, 0), (20, 0);
             SELECT pg_create_physical_replication_slot('gone_standby', true);",
        )
        .unwrap();

    // Idle in transaction, holding a row lock another session then waits for.
    let mut idle = PgConnection::establish(&dsn).unwrap();
    idle.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .unwrap();
    let blocked_dsn = dsn.clone();
    let blocked = std::thread::spawn(move || {
        let mut c = PgConnection::establish(&blocked_dsn).unwrap();
        c.batch_execute("UPDATE t SET v = 2 WHERE id = 1").unwrap();
    });
    // A deadlock: two transactions locking two rows in opposite orders.
    let mut a = PgConnection::establish(&dsn).unwrap();
    let mut b = PgConnection::establish(&dsn).unwrap();
    a.batch_execute("BEGIN; UPDATE pair SET v = 1 WHERE id = 10")
        .unwrap();
    b.batch_execute("BEGIN; UPDATE pair SET v = 1 WHERE id = 20")
        .unwrap();
    let a_side = std::thread::spawn(move || {
        let r = a.batch_execute("UPDATE pair SET v = 2 WHERE id = 20");
        let _ = a.batch_execute("ROLLBACK");
        r.is_err()
    });
    // Whichever side reaches its second row first waits for the other: a cycle either way.
    let b_failed = b
        .batch_execute("UPDATE pair SET v = 2 WHERE id = 10")
        .is_err();
    let _ = b.batch_execute("ROLLBACK");
    let a_failed = a_side.join().unwrap();
    assert!(
        a_failed ^ b_failed,
        "PostgreSQL broke the deadlock by aborting one side"
    );
    wait_firing(&server, "pg_log_deadlock", true);

    for rule in [
        "pg_idle_in_transaction",
        "pg_blocked_sessions",
        "pg_replication_slot_inactive",
    ] {
        wait_firing(&server, rule, true);
    }

    // The trouble ends.
    idle.batch_execute("ROLLBACK").unwrap();
    blocked.join().unwrap();
    admin
        .batch_execute("SELECT pg_drop_replication_slot('gone_standby')")
        .unwrap();
    for rule in [
        "pg_idle_in_transaction",
        "pg_blocked_sessions",
        "pg_replication_slot_inactive",
        // Its window (20 s here) has passed with no deadlock in it.
        "pg_log_deadlock",
    ] {
        wait_firing(&server, rule, false);
    }

    // The target stops: the agent still checks in, so it is the target that is unreachable.
    drop(idle);
    drop(admin);
    cluster.stop();
    wait_firing(&server, "pg_target_unreachable", true);
    assert!(!firing(&server).contains("agent_silent"));
    cluster.restart().unwrap();
    wait_firing(&server, "pg_target_unreachable", false);

    // The agent is killed: it goes silent; started again, it is back.
    drop(agent);
    wait_firing(&server, "agent_silent", true);
    let mut again = Agent(agent_run(state.path(), &dsn).spawn().unwrap());
    follow_log(again.0.stderr.take().unwrap(), |_| {});
    wait_firing(&server, "agent_silent", false);
    drop(again);
    server.stop();
}
