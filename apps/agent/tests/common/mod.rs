//! A real server (TLS, client certificates, PostgreSQL) the agent binary talks to, which a
//! test can stop and start again on the same address.
#![allow(dead_code)]

use pganalytics_adapters::testing::TestDatabase;
use pganalytics_domain::access::Role;
use pganalytics_server::harness::{Store, TestServer};
use pganalytics_server::settings::Settings;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Server {
    pub url: String,
    pub ca_file: PathBuf,
    pub token: String,
    /// An API token for the REST API (people and scripts).
    pub api_token: String,
    pub db: TestDatabase,
    data: tempfile::TempDir,
    addr: SocketAddr,
    running: Option<TestServer>,
}

impl Server {
    /// A server on a fresh database, and a registration token for one agent.
    pub fn start() -> Self {
        let db = TestDatabase::create();
        let data = tempfile::tempdir().unwrap();
        let settings = Self::settings(&db, data.path(), "127.0.0.1:0".parse().unwrap());
        let running = TestServer::start(Store::Postgres, settings);
        let addr = running.addr();
        Self {
            url: format!("https://localhost:{}", addr.port()),
            ca_file: data.path().join("ca.pem"),
            token: running.registration_token(1),
            api_token: running.api_token(Role::Admin),
            db,
            data,
            addr,
            running: Some(running),
        }
    }

    fn settings(db: &TestDatabase, data: &Path, listen: SocketAddr) -> Settings {
        Settings {
            listen,
            data_dir: data.to_owned(),
            database_url: Some(SecretString::from(db.url.clone())),
            workers: 1,
            pool_size: 2,
            bcrypt_cost: 4,
            allow_weak_bcrypt: true,
            // Tests that look at alerts evaluate them themselves.
            alert_interval_seconds: 86_400,
            ..Settings::default()
        }
    }

    /// Runs `work` with the running server's use cases (see `TestServer::run`).
    pub fn run<F, Fut, T>(&self, work: F) -> T
    where
        F: FnOnce(
                std::sync::Arc<pganalytics_ports::usecases::ServerUseCases>,
                pganalytics_ports::Backend,
            ) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.running
            .as_ref()
            .expect("the server is running")
            .run(work)
    }

    /// Stops the server (connections are dropped, not drained).
    pub fn stop(&mut self) {
        self.running = None;
    }

    /// Starts it again on the same address, data directory and database.
    pub fn restart(&mut self) {
        self.stop();
        let settings = Self::settings(&self.db, self.data.path(), self.addr);
        self.running = Some(TestServer::start(Store::Postgres, settings));
    }

    /// Registers an agent with `state` as its state directory.
    pub fn register(&self, state: &Path, name: &str) -> String {
        let out = register(self, state, &self.token, &["--name", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

pub fn agent() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pganalytics-agent"));
    // The agent must not pick up a developer's settings.
    for (k, _) in std::env::vars() {
        if k.starts_with("PGANALYTICS_AGENT_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `pganalytics-agent run` on `state` monitoring `dsn`, every group every second, JSON logs
/// on a piped stderr: the daemon the end-to-end tests drive.
pub fn agent_run(state: &Path, dsn: &str) -> Command {
    let mut cmd = agent();
    cmd.arg("run")
        .arg("--state-dir")
        .arg(state)
        .env("PGANALYTICS_AGENT_DSN", dsn)
        .env("PGANALYTICS_AGENT_LOG_FORMAT", "json")
        .envs(pganalytics_domain::catalog::Group::ALL.map(|g| {
            let group = g.as_str().to_ascii_uppercase();
            (format!("PGANALYTICS_AGENT_INTERVALS__{group}"), "1")
        }))
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Calls `each` with every JSON line the agent logs on `stderr` (other lines are echoed),
/// on a thread of its own.
pub fn follow_log(
    stderr: std::process::ChildStderr,
    mut each: impl FnMut(&serde_json::Value) + Send + 'static,
) {
    use std::io::BufRead as _;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v) => {
                    each(&v);
                    if v["level"] != "INFO" {
                        eprintln!("agent: {line}");
                    }
                }
                Err(_) => eprintln!("agent: {line}"),
            }
        }
    });
}

/// Waits until `ok`, polling, failing the test after `timeout`.
pub fn wait_for(what: &str, timeout: std::time::Duration, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn register(s: &Server, state: &Path, token: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = agent();
    cmd.args(["register", "--server", &s.url, "--ca-file"])
        .arg(&s.ca_file)
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .env("PGANALYTICS_AGENT_REGISTRATION_TOKEN", token);
    if !extra.contains(&"--name") {
        cmd.args(["--name", "db1"]);
    }
    cmd.output().unwrap()
}
