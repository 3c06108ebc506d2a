//! `TestApp`: the real server through the harness, on the memory backend or on a fresh
//! PostgreSQL database, and clients for collectors and people. [`api_tests!`] runs a test on
//! both backends.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pganalytics_adapters::local_postgres::LocalCluster;
use pganalytics_adapters::testing::TestDatabase;
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditQuery;
use pganalytics_server::harness::{Store, TestServer, test_settings};
use pganalytics_server::settings::Settings;
use secrecy::SecretString;
use serde_json::Value;
use std::io::Write;
use std::process::Command;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
use uuid::Uuid;

pub use pganalytics_server::harness::ADMIN_PASSWORD;

pub const SMALL_BODY_LIMIT: usize = 2 * 1024 * 1024;
pub const SMALL_BATCH_LIMIT: usize = 8 * 1024 * 1024;

/// Runs each test on both backends, as `<test>::memory` and `<test>::postgres`: the function
/// gets the backend to start its app on. PostgreSQL stays the reference; the memory run is
/// the fast one (`cargo test -p pganalytics-server --test api memory`).
macro_rules! api_tests {
    ($( $(#[doc = $doc:literal])* fn $name:ident($on:ident) $body:block )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($on: $crate::helpers::On) $body

            #[test]
            fn memory() {
                run($crate::helpers::On::Memory)
            }

            #[test]
            fn postgres() {
                run($crate::helpers::On::Postgres)
            }
        }
    )*};
}
pub(crate) use api_tests;

/// The backend an app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Memory,
    Postgres,
}

pub struct TestApp {
    pub server: TestServer,
    /// A directory of the test's own (the PostgreSQL backend's data directory).
    pub data_dir: tempfile::TempDir,
    /// The PostgreSQL database, when on PostgreSQL.
    pub db_url: Option<String>,
    /// An admin API token.
    pub api_token: String,
    people_client: std::sync::OnceLock<ureq::Agent>,
    _db: Option<TestDatabase>,
}

pub struct TestCollector {
    pub id: Uuid,
    pub key_pem: String,
    pub cert_pem: String,
    pub token: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// A server on `on` (a fresh database of the shared test cluster, for PostgreSQL).
    pub fn spawn(on: On) -> Self {
        Self::spawn_with(on, |_| {})
    }

    /// A server on `on`, with some settings changed.
    pub fn spawn_with(on: On, change: impl FnOnce(&mut Settings)) -> Self {
        match on {
            On::Memory => Self::start(On::Memory, None, None, change),
            On::Postgres => {
                let db = TestDatabase::create();
                let url = db.url.clone();
                Self::start(On::Postgres, Some(url), Some(db), change)
            }
        }
    }

    /// A server on the PostgreSQL database at `db_url` (e.g. a private cluster a test stops
    /// and starts).
    pub fn spawn_on(db_url: String, db: Option<TestDatabase>) -> Self {
        Self::start(On::Postgres, Some(db_url), db, |_| {})
    }

    /// [`spawn_on`](Self::spawn_on) with settings changed by `change`.
    pub fn spawn_on_with(db_url: String, change: impl FnOnce(&mut Settings)) -> Self {
        Self::start(On::Postgres, Some(db_url), None, change)
    }

    fn start(
        on: On,
        db_url: Option<String>,
        db: Option<TestDatabase>,
        change: impl FnOnce(&mut Settings),
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data_dir: data_dir.path().to_owned(),
            database_url: db_url.clone().map(SecretString::from),
            max_body_bytes: SMALL_BODY_LIMIT,
            max_batch_bytes: SMALL_BATCH_LIMIT,
            ..test_settings()
        };
        change(&mut settings);
        let store = match on {
            On::Memory => Store::Memory,
            On::Postgres => Store::Postgres,
        };
        let server = TestServer::start(store, settings);
        let api_token = server.api_token(Role::Admin);
        Self {
            server,
            data_dir,
            db_url,
            api_token,
            people_client: std::sync::OnceLock::new(),
            _db: db,
        }
    }

    /// Runs the server binary's CLI against this app's data directory and database and
    /// returns its stdout (the bare secret). The CLI works on PostgreSQL: with the memory
    /// backend only commands that need no database (`openapi`) make sense.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pganalytics-server"));
        cmd.args(args)
            .env("PGANALYTICS_DATA_DIR", self.data_dir.path())
            .env("PGANALYTICS_LOG_FORMAT", "json");
        if let Some(url) = &self.db_url {
            cmd.env("PGANALYTICS_DATABASE_URL", url);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "cli {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn ca_pem(&self) -> String {
        self.server.ca_pem().to_owned()
    }

    /// The key the server signs tokens with (PKCS#8 PEM), for tests that forge tokens.
    pub fn signing_key(&self) -> Vec<u8> {
        self.server.signing_key_bytes()
    }

    /// Moves the server's clock: what a test does instead of waiting for time to pass.
    pub fn advance(&self, by: time::Duration) {
        self.server.clock().advance(by);
    }

    fn agent(&self, client: Option<(&str, &str)>) -> ureq::Agent {
        let ca = Certificate::from_pem(self.ca_pem().as_bytes()).unwrap();
        let mut tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(RootCerts::new_with_certs(&[ca]));
        if let Some((cert, key)) = client {
            let cert = Certificate::from_pem(cert.as_bytes()).unwrap();
            let key = PrivateKey::from_pem(key.as_bytes()).unwrap();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            // What the server answers, redirects included.
            .max_redirects(0)
            .build()
            .into()
    }

    /// A client with no certificate (a person or a script).
    /// One client for the whole test: its connection is reused (as a real client's is),
    /// which spares each request a TLS handshake.
    pub fn client(&self) -> ureq::Agent {
        self.people_client.get_or_init(|| self.agent(None)).clone()
    }

    /// A client presenting this collector's certificate.
    pub fn collector_client(&self, c: &TestCollector) -> ureq::Agent {
        self.agent(Some((&c.cert_pem, &c.key_pem)))
    }

    pub fn registration_token(&self, uses: u32) -> String {
        self.server.registration_token(uses)
    }

    pub fn register_with(&self, token: &str, name: &str, csr: Option<&str>) -> Reply {
        let mut body = serde_json::json!({ "name": name, "hostname": "db1.example.com" });
        if let Some(csr) = csr {
            body["csr"] = Value::String(csr.to_owned());
        }
        let res = self
            .client()
            .post(&self.url("/api/v1/collectors/register"))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(&body);
        reply(res)
    }

    /// Registers a collector with a fresh key and CSR.
    pub fn register(&self, name: &str) -> TestCollector {
        let (key_pem, csr) = pganalytics_adapters::pki::new_key_and_csr(name).unwrap();
        let r = self.register_with(&self.registration_token(1), name, Some(&csr));
        assert_eq!(r.status, 201, "{}", r.body);
        TestCollector {
            id: r.body["collector_id"].as_str().unwrap().parse().unwrap(),
            key_pem,
            cert_pem: r.body["certificate"].as_str().unwrap().to_owned(),
            token: r.body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Pushes `body` as `c`, with `encoding` applied (`gzip`, `zstd` or `identity`).
    pub fn push(&self, c: &TestCollector, body: &[u8], encoding: &str) -> Reply {
        self.push_as(&self.collector_client(c), &c.token, body, encoding)
    }

    /// Pushes the example batch, freshly addressed to `c` at the present, gzip-compressed.
    pub fn push_example(&self, c: &TestCollector) -> Reply {
        self.push(c, &bytes(&example_batch(c.id, now())), "gzip")
    }

    pub fn push_as(&self, agent: &ureq::Agent, token: &str, body: &[u8], encoding: &str) -> Reply {
        let payload = match encoding {
            "gzip" => gzip(body),
            "zstd" => zstd::encode_all(body, 3).unwrap(),
            _ => body.to_vec(),
        };
        let res = agent
            .post(&self.url("/api/v1/metrics/push"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", encoding)
            .send(&payload[..]);
        reply(res)
    }

    /// Any request: `auth` is a whole header (`("Authorization", "Bearer …")`), `body` JSON.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let res = match body {
            Some(b) => self.client().run(
                req.header("Content-Type", "application/json")
                    .body(serde_json::to_vec(b).unwrap())
                    .unwrap(),
            ),
            None => self.client().run(req.body(()).unwrap()),
        };
        reply(res)
    }

    /// Logs in and returns the whole answer (access and refresh tokens).
    pub fn login(&self, user: &str, password: &str) -> Reply {
        self.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&serde_json::json!({ "username": user, "password": password })),
        )
    }

    /// The access token of a fresh admin session.
    pub fn admin_session(&self) -> String {
        let r = self.login("admin", ADMIN_PASSWORD);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    /// Audit entries matching `query` (at most 1,000), newest first, from the store.
    pub fn audit(&self, query: AuditQuery) -> Vec<pganalytics_domain::audit::StoredAuditEntry> {
        self.server
            .run(move |uc, _| async move { uc.audit_log.list(query).await })
            .unwrap()
    }

    /// How many audit entries have `action` (and `outcome`, when given).
    pub fn audit_count(&self, action: Option<&str>, outcome: Option<&str>) -> usize {
        self.audit(AuditQuery {
            action: action.map(str::to_owned),
            outcome: outcome.map(|o| pganalytics_domain::audit::Outcome::parse(o).unwrap()),
            limit: AuditQuery::MAX_LIMIT,
            ..AuditQuery::default()
        })
        .len()
    }

    /// How many users the store holds.
    pub fn user_count(&self) -> usize {
        self.server
            .run(|uc, _| async move { uc.users.list().await })
            .unwrap()
            .len()
    }

    /// `GET` with the app's API token.
    pub fn get(&self, path: &str) -> Reply {
        reply(
            self.client()
                .get(&self.url(path))
                .header("Authorization", &format!("Bearer {}", self.api_token))
                .call(),
        )
    }

    pub fn delete(&self, path: &str) -> Reply {
        reply(
            self.client()
                .delete(&self.url(path))
                .header("Authorization", &format!("Bearer {}", self.api_token))
                .call(),
        )
    }

    /// Rows stored in `family`, read straight from the store.
    pub fn count_rows(&self, family: &str) -> i64 {
        match (&self.db_url, self.server.memory_store()) {
            (Some(url), _) => count_rows(url, family),
            (None, Some(memory)) => i64::try_from(memory.rows_of(family)).unwrap(),
            (None, None) => unreachable!("an app is on PostgreSQL or in memory"),
        }
    }

    /// Rows in every family table the example batch touches.
    pub fn total_rows(&self) -> i64 {
        [
            "pg_database",
            "pg_table",
            "pg_activity",
            "sys_load",
            "sys_memory",
            "pg_log_event",
        ]
        .iter()
        .map(|f| self.count_rows(f))
        .sum()
    }
}

pub fn count_rows(url: &str, family: &str) -> i64 {
    sql_i64(url, &format!("SELECT count(*) FROM metrics.{family}"))
}

/// One number from `sql` (a single bigint-compatible value) on the database at `url`.
pub fn sql_i64(url: &str, sql: &str) -> i64 {
    sql_text(url, &format!("SELECT ({sql})::bigint"))
        .parse()
        .unwrap()
}

/// Runs `work` on a fresh connection to `url`, on a thread and runtime of its own: the
/// synchronous tests' way to the database. Returns the thread, which ends with `work`.
fn on_connection<T: Send + 'static>(
    url: &str,
    work: impl FnOnce(AsyncPgConnection) -> futures_util::future::BoxFuture<'static, T> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conn = AsyncPgConnection::establish(&url).await.unwrap();
            work(conn).await
        })
    })
}

/// Runs `sql` (one statement, nothing returned) on the database at `url`.
pub fn sql_exec(url: &str, sql: &str) {
    let sql = sql.to_owned();
    on_connection(url, move |mut conn| {
        Box::pin(async move {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        })
    })
    .join()
    .unwrap();
}

/// A session on `url` holding advisory lock `key` until the returned sender is dropped.
pub fn hold_advisory_lock(url: &str, key: i64) -> std::sync::mpsc::Sender<()> {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel();
    on_connection(url, move |mut conn| {
        Box::pin(async move {
            diesel::sql_query(format!("SELECT pg_advisory_lock({key})"))
                .execute(&mut conn)
                .await
                .unwrap();
            held.send(()).unwrap();
            let _ = wait.recv();
        })
    });
    is_held.recv().unwrap();
    release
}

/// One value of `sql`, as text, on the database at `url`.
pub fn sql_text(url: &str, sql: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let sql = format!("SELECT ({sql})::text AS t");
    on_connection(url, move |mut conn| {
        Box::pin(async move {
            diesel::sql_query(sql)
                .get_result::<T>(&mut conn)
                .await
                .unwrap()
                .t
        })
    })
    .join()
    .unwrap()
}

pub fn reply(res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut res = res.unwrap_or_else(|e| panic!("request failed at the transport level: {e}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `docs/examples/batch.json`, re-addressed to `collector`, with a fresh batch id and its
/// times moved to `at` (the example's own times are in the past).
pub fn example_batch(collector: Uuid, at: OffsetDateTime) -> Value {
    let text = include_str!("../../../../docs/examples/batch.json");
    let mut b: Value = serde_json::from_str(text).unwrap();
    let original = OffsetDateTime::parse(b["collected_at"].as_str().unwrap(), &Rfc3339).unwrap();
    b["collector_id"] = Value::String(collector.to_string());
    b["batch_id"] = Value::String(Uuid::new_v4().to_string());
    b["collected_at"] = Value::String(at.format(&Rfc3339).unwrap());
    for block in b["metrics"].as_array_mut().unwrap() {
        let time_col = block["columns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c == "time");
        if let Some(i) = time_col {
            for row in block["rows"].as_array_mut().unwrap() {
                let t = OffsetDateTime::parse(row[i].as_str().unwrap(), &Rfc3339).unwrap();
                row[i] = Value::String((at + (t - original)).format(&Rfc3339).unwrap());
            }
        }
    }
    b
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A private cluster a test may stop and start: for database-outage tests.
pub fn private_cluster() -> (LocalCluster, String) {
    let cluster =
        LocalCluster::start(pganalytics_adapters::testing::test_cluster_options()).unwrap();
    let admin = cluster.url("postgres");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(pganalytics_adapters::postgres::ensure_database(
            &admin,
            "pganalytics",
            None,
        ))
        .unwrap();
    })
    .join()
    .unwrap();
    let url = cluster.url("pganalytics");
    (cluster, url)
}
