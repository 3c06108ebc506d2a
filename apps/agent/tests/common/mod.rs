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
            ..Settings::default()
        }
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
