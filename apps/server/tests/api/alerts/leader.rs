//! Two `pganalytics-server` processes on one database: exactly one evaluates the alert
//! rules, and when it is killed the other takes over (issue 12). PostgreSQL only: sharing
//! a database is what makes several servers.

use crate::helpers::{private_cluster, reply};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// One server process: its URL, and a client trusting its CA.
pub struct Process {
    pub child: Child,
    url: String,
    client: ureq::Agent,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const KEYS: &str = "k1=4a1f0c9b7e2d3a5f6c8b9e0d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";

/// A `pganalytics-server serve` process on `db_url`, with the shared key ring, alerts
/// evaluated every second, and `env` on top.
pub fn start(db_url: &str, env: &[(&str, &str)]) -> Process {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    env.push(("PGANALYTICS_SECRETS_KEYS", KEYS));
    let mut p = start_in(dir.path(), db_url, &env);
    p._dir = Some(dir);
    p
}

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// [`start`] with the data directory (CA, signing key, key ring) of another server, so
/// that its collectors' certificates and tokens are good here too.
pub fn start_in(dir: &std::path::Path, db_url: &str, env: &[(&str, &str)]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pganalytics-server"))
        .arg("serve")
        .env("PGANALYTICS_DATA_DIR", dir)
        .env("PGANALYTICS_DATABASE_URL", db_url)
        .env("PGANALYTICS_LISTEN", "127.0.0.1:0")
        .env("PGANALYTICS_LOG_FORMAT", "json")
        .env("PGANALYTICS_ADMIN_PASSWORD", "leader-test-password-1")
        .env("PGANALYTICS_BCRYPT_COST", "4")
        .env("PGANALYTICS_ALLOW_WEAK_BCRYPT", "true")
        .env("PGANALYTICS_METRICS_REQUIRE_AUTH", "false")
        .env("PGANALYTICS_ALERT_INTERVAL_SECONDS", "1")
        .env("PGANALYTICS_POOL_SIZE", "4")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log is JSON lines on stdout or stderr; the `listening` line carries the URL.
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs that it listens");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["msg"] == "listening" {
            break v["url"].as_str().unwrap().to_owned();
        }
    };
    let ca = Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[ca]))
        .build();
    let client = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    Process {
        child,
        url,
        client,
        _dir: None,
    }
}

/// (leading, cycles evaluated) from the process's `/metrics`.
fn alerting(p: &Process) -> (bool, u64) {
    let r = reply(p.client.get(&format!("{}/metrics", p.url)).call());
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap_or_default().to_owned();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("pganalytics_alert_leader ") == 1.0,
        value("pganalytics_alert_evaluations_total ") as u64,
    )
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn of_two_server_processes_on_one_database_one_evaluates_and_the_other_takes_over() {
    let (_cluster, db_url) = private_cluster();
    let a = start(&db_url, &[]);
    let mut b = Some(start(&db_url, &[]));
    wait_until("three evaluation cycles", || {
        alerting(&a).1 + alerting(b.as_ref().unwrap()).1 >= 3
    });
    let (sa, sb) = (alerting(&a), alerting(b.as_ref().unwrap()));
    assert!(
        (sa.1 == 0) != (sb.1 == 0),
        "exactly one evaluates: {sa:?} {sb:?}"
    );
    assert_eq!(
        (sa.0, sb.0),
        (sa.1 > 0, sb.1 > 0),
        "the evaluator says it leads"
    );
    // Killed without a goodbye, the leader's session ends and the other takes over.
    let (leader, follower) = if sa.1 > 0 {
        (a, b.take().unwrap())
    } else {
        (b.take().unwrap(), a)
    };
    let before = alerting(&follower).1;
    assert_eq!(before, 0);
    drop(leader);
    wait_until("the other server to take over", || {
        let (leads, cycles) = alerting(&follower);
        leads && cycles > 0
    });
}
