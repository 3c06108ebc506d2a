//! Shared by the benchmarks: the server started in-process, and CPU accounting from /proc.

use pganalytics_server::harness::{Store, TestServer};
use pganalytics_server::settings::Settings;

/// Threads of this process whose names start with one of these are the simulated clients
/// (collectors pushing, the raw COPY connections); every other thread is the server's: its
/// HTTP workers, the committers, and the blocking pool that inflates and parses pushes.
pub const CLIENT_THREADS: [&str; 2] = ["pusher", "copy-client"];

/// CPU seconds (user + system) used so far by the server's threads, the simulated clients'
/// threads (see [`CLIENT_THREADS`]), and every PostgreSQL process of the cluster.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub server: f64,
    pub client: f64,
    pub postgres: f64,
}

/// `(comm, ppid, own CPU seconds, CPU seconds of waited-for children)` from a stat line.
pub fn ticks_of(stat: &str) -> Option<(String, i32, f64, f64)> {
    // pid (comm) state ppid … utime(14) stime(15) cutime(16) cstime(17): comm may hold
    // spaces, so fields are counted after the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    let field = |i: usize| rest.get(i).and_then(|v| v.parse::<f64>().ok());
    let own = field(11)? + field(12)?;
    let children = field(13)? + field(14)?;
    Some((comm, ppid, own / 100.0, children / 100.0))
}

/// CPU microseconds of client threads that have ended (see [`client_thread_done`]).
static ENDED_CLIENT_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Called by a client thread as its last step: once joined, a thread's CPU time is gone
/// from `/proc/self/task`, so it is kept here for [`cpu_now`].
pub fn client_thread_done() {
    if let Some((_, _, secs, _)) = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .as_deref()
        .and_then(ticks_of)
    {
        ENDED_CLIENT_MICROS.fetch_add((secs * 1e6) as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

pub fn cpu_now(postmaster: i32) -> Cpu {
    let mut cpu = Cpu {
        client: ENDED_CLIENT_MICROS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6,
        ..Cpu::default()
    };
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some((comm, _, secs, _)) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(ticks_of)
        {
            if CLIENT_THREADS.iter().any(|c| comm.starts_with(c)) {
                cpu.client += secs
            } else {
                cpu.server += secs
            }
        }
    }
    for proc_dir in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = proc_dir.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Some((_, ppid, secs, exited_children)) =
            std::fs::read_to_string(proc_dir.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(ticks_of)
        {
            // Backends that already exited left their CPU time in the postmaster's children counters.
            if pid == postmaster {
                cpu.postgres += secs + exited_children;
            } else if ppid == postmaster {
                cpu.postgres += secs;
            }
        }
    }
    cpu
}

pub fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Starts the server on PostgreSQL (the harness: its own thread, stopped when dropped) and
/// creates a registration token for `uses` agents.
pub fn start_server(settings: Settings, uses: usize) -> (TestServer, String) {
    let server = TestServer::start(Store::Postgres, settings);
    let token = server.registration_token(u32::try_from(uses).unwrap_or(u32::MAX));
    (server, token)
}

/// How a benchmark's HTTP client behaves.
#[derive(Debug, Clone, Copy)]
pub struct ClientSettings {
    pub timeout: std::time::Duration,
    /// Whether a 4xx or 5xx answer is an `Err` (else the caller reads the status).
    pub status_as_error: bool,
}

/// A client trusting the server's CA (PEM), with a client certificate and key when given.
pub fn tls_agent(
    ca: &str,
    client: Option<(&str, &str)>,
    settings: ClientSettings,
) -> anyhow::Result<ureq::Agent> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[Certificate::from_pem(
            ca.as_bytes(),
        )?]));
    if let Some((cert, key)) = client {
        tls = tls.client_cert(Some(ClientCert::new_with_certs(
            &[Certificate::from_pem(cert.as_bytes())?],
            PrivateKey::from_pem(key.as_bytes())?,
        )));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(settings.status_as_error)
        .timeout_global(Some(settings.timeout))
        // As long as an agent keeps its connection.
        .max_idle_age(pganalytics_adapters::http::IDLE_CONNECTION)
        .build()
        .into())
}

/// A simulated collector: registered with a CSR, pushing with its certificate and token.
pub struct Collector {
    pub id: String,
    pub token: String,
    pub agent: ureq::Agent,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("Collector")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Registers a collector named `name` at the server `base` with a registration token.
pub fn enrol(
    base: &str,
    ca: &str,
    token: &str,
    name: &str,
    settings: ClientSettings,
) -> anyhow::Result<Collector> {
    use anyhow::Context as _;
    let (key, csr) = pganalytics_adapters::pki::new_key_and_csr(name)?;
    let mut res = tls_agent(ca, None, settings)?
        .post(&format!("{base}/api/v1/collectors/register"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({
            "name": name, "hostname": format!("{name}.bench.example.com"), "csr": csr
        }))?;
    let body: serde_json::Value = serde_json::from_str(&res.body_mut().read_to_string()?)?;
    let cert = body["certificate"]
        .as_str()
        .context("registration failed")?;
    Ok(Collector {
        id: body["collector_id"].as_str().context("no id")?.to_owned(),
        token: body["token"].as_str().context("no token")?.to_owned(),
        agent: tls_agent(ca, Some((cert, &key)), settings)?,
    })
}

/// A scratch directory (`prefix…` under the temporary directory), or `given`; the first
/// is removed when the returned guard drops. Run as root, the private cluster runs as
/// `postgres`, which must be able to enter it.
pub fn scratch_dir(
    prefix: &str,
    given: Option<&std::path::Path>,
) -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf)> {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(std::env::temp_dir())?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711))?;
    let dir = given.map_or_else(|| tmp.path().to_owned(), std::path::Path::to_owned);
    std::fs::create_dir_all(&dir)?;
    Ok((tmp, dir))
}

/// Enrols `count` collectors named `<prefix><n>` straight in the store (no TLS, no CSR):
/// for benchmarks that fill the database through the store, not the API.
pub async fn enrol_in_store(
    store: &pganalytics_adapters::postgres::PgStore,
    prefix: &str,
    count: usize,
    now: time::OffsetDateTime,
) -> anyhow::Result<Vec<pganalytics_domain::collector::Collector>> {
    use pganalytics_domain::collector::{
        CertificateInfo, Collector, CollectorId, CollectorName, CollectorStatus, Hostname,
    };
    use pganalytics_domain::credentials::{Fingerprint, RegistrationSecret, RegistrationToken};
    use pganalytics_ports::store::{CollectorStore, RegistrationTokenStore};
    let ctx = pganalytics_domain::audit::AuditContext::cli(Some(prefix.to_owned()));
    let secret = RegistrationSecret::from_bytes(&[9; 32]);
    store
        .create_registration_token(
            &RegistrationToken {
                id: uuid::Uuid::new_v4(),
                hash: secret.hash(),
                uses_left: u32::try_from(count)?,
                expires_at: now + time::Duration::hours(1),
                created_at: now,
            },
            &ctx.entry("registration_token.create", None, now),
        )
        .await?;
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let name = format!("{prefix}{n}");
        let c = Collector {
            id: CollectorId::from_uuid(uuid::Uuid::new_v4()),
            name: CollectorName::parse(&name)?,
            hostname: Hostname::parse(&format!("{name}.bench.example.com"))?,
            status: CollectorStatus::Active,
            certificate: CertificateInfo {
                fingerprint: Fingerprint::of_der(name.as_bytes()),
                serial: format!("{n:04X}"),
                not_after: now + time::Duration::days(90),
                pem: String::new(),
            },
            registered_at: now,
            last_seen: None,
            config_version: 1,
            agent_version: None,
        };
        store
            .enroll(
                &secret.hash(),
                &c,
                now,
                &ctx.entry("collector.register", None, now),
            )
            .await?;
        out.push(c);
    }
    Ok(out)
}
