//! The in-memory server harness: the real server — the actix app, its TLS, its middleware
//! and every route — on the memory backend, on a free port of 127.0.0.1, with a clock the
//! caller moves. For tests, and for tools that want a throwaway pgAnalytics server:
//!
//! ```no_run
//! use pganalytics_server::harness::TestServer;
//!
//! let server = TestServer::memory();
//! let health = server.url("/api/v1/health"); // https, trusting `server.ca_pem()`
//! let token = server.api_token(pganalytics_domain::access::Role::Viewer);
//! server.clock().advance(time::Duration::minutes(16)); // access tokens have expired now
//! ```
//!
//! The server runs in a thread of its own (with its own actix runtime) and stops when the
//! value is dropped. [`TestServer::start`] runs it on PostgreSQL instead, with the same
//! clock: the API tests run on both backends this way.

use pganalytics_adapters::backend::{MemoryBackend, MemoryOptions, PostgresBackend};
use pganalytics_adapters::memory::MemoryStore;
use pganalytics_adapters::system::{OsRandom, TestClock};
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditContext;
use pganalytics_ports::Backend;
use pganalytics_ports::usecases::ServerUseCases;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;

use crate::settings::Settings;

/// The first administrator's password on every harness server.
pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";

/// Where a harness server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// In memory: nothing written anywhere.
    Memory,
    /// PostgreSQL, at the settings' `database_url` (or a private cluster), with the keys in
    /// the settings' `data_dir`.
    Postgres,
}

/// Settings for a harness server: port 0 on 127.0.0.1, two workers, a cheap bcrypt cost,
/// the first administrator's password [`ADMIN_PASSWORD`], and no alert evaluation or
/// notification on a timer (tests run those use cases themselves, on a moved clock).
pub fn test_settings() -> Settings {
    Settings {
        alert_interval_seconds: 86_400,
        notify_interval_seconds: 86_400,
        listen: "127.0.0.1:0".parse().expect("a valid address"),
        workers: 2,
        pool_size: 4,
        bcrypt_cost: 4,
        allow_weak_bcrypt: true,
        admin_password: Some(SecretString::from(ADMIN_PASSWORD.to_owned())),
        ..Settings::default()
    }
}

/// What a started server hands back to the harness.
struct Started {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    /// The server's runtime, where use cases called from outside run.
    runtime: tokio::runtime::Handle,
    uc: Arc<ServerUseCases>,
    backend: Backend,
    ca_pem: String,
    memory: Option<Arc<MemoryStore>>,
    signing_key_pem: SecretString,
}

/// A running server for a test or a tool.
pub struct TestServer {
    started: Started,
    clock: Arc<TestClock>,
    store: Store,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.started.addr)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The backend of `store`, and what keeps it alive while the server runs.
async fn open(
    store: Store,
    settings: &Settings,
    clock: Arc<TestClock>,
) -> anyhow::Result<(
    Backend,
    Box<dyn std::any::Any>,
    Option<Arc<MemoryStore>>,
    SecretString,
)> {
    let ids = Arc::new(OsRandom);
    Ok(match store {
        Store::Memory => {
            let options = MemoryOptions {
                bcrypt_cost: settings.bcrypt_cost,
            };
            let m = MemoryBackend::new(clock, ids, &options)?;
            let (backend, memory) = (m.backend().clone(), m.store().clone());
            let key = m.signing_key_pem().clone();
            (backend, Box::new(m), Some(memory), key)
        }
        Store::Postgres => {
            let p = PostgresBackend::open(&settings.storage(), clock, ids).await?;
            let key = std::fs::read_to_string(settings.data_dir.join("jwt.key"))?;
            (
                p.backend().clone(),
                Box::new(p),
                None,
                SecretString::from(key),
            )
        }
    })
}

impl TestServer {
    /// The real server on the memory backend, with [`test_settings`].
    pub fn memory() -> Self {
        Self::start(Store::Memory, test_settings())
    }

    /// The real server on `store` with `settings`.
    ///
    /// # Panics
    /// When the server does not start, with the reason.
    pub fn start(store: Store, settings: Settings) -> Self {
        let clock = Arc::new(TestClock::new());
        let (tx, rx) = mpsc::channel();
        let server_clock = clock.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let opened = open(store, &settings, server_clock).await;
                let (backend, _keep, memory, signing_key_pem) = match opened {
                    Ok(o) => o,
                    Err(e) => return tx.send(Err(format!("{e:#}"))).unwrap_or(()),
                };
                let running =
                    match crate::app::start(&backend, &settings, crate::logging::discard()).await {
                        Ok(r) => r,
                        Err(e) => return tx.send(Err(format!("{e:#}"))).unwrap_or(()),
                    };
                let started = Started {
                    addr: running.addr,
                    handle: running.server.handle(),
                    runtime: tokio::runtime::Handle::current(),
                    uc: running.uc.clone(),
                    backend,
                    ca_pem: running.ca_pem.clone(),
                    memory,
                    signing_key_pem,
                };
                if tx.send(Ok(started)).is_ok() {
                    let _ = running.server.await;
                }
            });
        });
        let started = rx
            .recv()
            .map_err(|_| "the server thread ended".to_owned())
            .and_then(|r| r)
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        Self {
            started,
            clock,
            store,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.started.addr
    }

    /// `https://localhost:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.started.addr.port())
    }

    /// The CA the server's certificate chains to (PEM): what clients trust.
    pub fn ca_pem(&self) -> &str {
        &self.started.ca_pem
    }

    /// The server's clock: move it instead of waiting for time to pass.
    pub fn clock(&self) -> &TestClock {
        &self.clock
    }

    pub fn store(&self) -> Store {
        self.store
    }

    /// The use cases the server runs, to act on it directly (create a token, a user).
    pub fn use_cases(&self) -> &ServerUseCases {
        &self.started.uc
    }

    /// The ports the server runs on, to look at what was stored.
    pub fn backend(&self) -> &Backend {
        &self.started.backend
    }

    /// The memory backend's stores, when it runs on them.
    pub fn memory_store(&self) -> Option<&MemoryStore> {
        self.started.memory.as_deref()
    }

    /// The key the server signs tokens with (PKCS#8 PEM): for tests that forge tokens.
    pub fn signing_key_pem(&self) -> &SecretString {
        &self.started.signing_key_pem
    }

    /// [`signing_key_pem`](Self::signing_key_pem) as bytes, for `JoseSigner::from_pem`.
    pub fn signing_key_bytes(&self) -> Vec<u8> {
        self.started
            .signing_key_pem
            .expose_secret()
            .as_bytes()
            .to_vec()
    }

    /// A new registration token for `uses` agents, valid 10 minutes.
    pub fn registration_token(&self, uses: u32) -> String {
        self.run(move |uc, _| async move {
            let who = AuditContext::cli(Some("harness".into()));
            let ttl = time::Duration::minutes(10);
            uc.registration_tokens.execute(&who, uses, ttl).await
        })
        .expect("a registration token")
        .secret
        .expose()
        .to_owned()
    }

    /// A new API token with `role`, until revoked.
    pub fn api_token(&self, role: Role) -> String {
        self.run(move |uc, _| async move {
            let who = AuditContext::cli(Some("harness".into()));
            uc.api_tokens
                .execute(&who, "harness", role, None, None)
                .await
        })
        .expect("an API token")
        .secret
        .expose()
        .to_owned()
    }

    /// Runs `work` with the server's use cases and ports on the server's own runtime (where
    /// its connection pools live) and waits for its result: how a test or a tool calls a use
    /// case, or reads a store, directly.
    ///
    /// # Panics
    /// When the server has stopped.
    pub fn run<F, Fut, T>(&self, work: F) -> T
    where
        F: FnOnce(Arc<ServerUseCases>, Backend) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let (uc, backend) = (self.started.uc.clone(), self.started.backend.clone());
        self.started.runtime.spawn(async move {
            let _ = tx.send(work(uc, backend).await);
        });
        rx.recv()
            .expect("the server stopped while running a use case")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.started.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)))
                .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
