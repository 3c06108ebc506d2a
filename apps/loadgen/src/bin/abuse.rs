//! `abuse`: what hostile requests cost the server (issue 11). A benchmark, not a test:
//!
//! ```sh
//! cargo build --release -p pganalytics-server -p pganalytics-loadgen
//! ./target/release/abuse
//! ```
//!
//! It runs the real `pganalytics-server` binary (next to this one) as its own process on its
//! zero-configuration private cluster, with production settings (bcrypt cost 12, default
//! limits and rate limits). For each case it resets the process's peak RSS
//! (`/proc/<pid>/clear_refs`), runs the case, and reports the peak RSS over the idle RSS
//! (`VmHWM` − `VmRSS` before) and the latency of `GET /api/v1/health` probed every 50 ms
//! meanwhile from another address (127.0.0.2) over one kept-alive TLS connection.

use anyhow::{Context as _, bail};
use clap::Parser;
use openssl::ssl::{SslConnector, SslMethod, SslStream};
use pganalytics_loadgen::{ClientSettings, Collector, enrol, scratch_dir, tls_agent};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Repeated for 5 s, back to back (pushes have a budget per collector).
const FIVE_S: (Duration, Duration) = (Duration::from_secs(5), Duration::ZERO);
/// Repeated for 5 s, 10 rounds a second at most (the people's budget is 20 a second).
const FIVE_S_PACED: (Duration, Duration) = (Duration::from_secs(5), Duration::from_millis(100));
/// Once.
const ONCE: (Duration, Duration) = (Duration::ZERO, Duration::ZERO);
const ADMIN_PASSWORD: &str = "benchmark-secret-pass-2026";

#[derive(Debug, Parser)]
#[command(about = "pgAnalytics abuse benchmark: memory and health latency under hostile load")]
struct Args {
    /// Where the server's data directory goes (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only the cases whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

/// The server process.
struct Server {
    child: Child,
    addr: SocketAddr,
    base: String,
    ca: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("pganalytics-server");
        if !exe.exists() {
            bail!(
                "{} is missing: cargo build --release -p pganalytics-server",
                exe.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(exe)
            .env("PGANALYTICS_DATA_DIR", dir.join("server"))
            .env("PGANALYTICS_LISTEN", addr.to_string())
            .env("PGANALYTICS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PGANALYTICS_WORKERS", "2")
            .env("PGANALYTICS_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut server = Self {
            child,
            addr,
            base: format!("https://localhost:{port}"),
            ca: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let ca_file = dir.join("server").join("ca.pem");
        loop {
            if let Ok(ca) = std::fs::read_to_string(&ca_file)
                && let Ok(a) = agent(&ca, None)
                && a.get(&format!("{}/api/v1/health", server.base))
                    .call()
                    .is_ok()
            {
                server.ca = ca;
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited ({status}); see {}",
                    dir.join("server.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("the server did not answer within 2 minutes");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `(VmRSS, VmHWM)` in bytes.
    fn memory(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }
}

/// The benchmark's HTTP clients: they read every status themselves.
const CLIENT: ClientSettings = ClientSettings {
    timeout: Duration::from_secs(120),
    status_as_error: false,
};

fn agent(ca: &str, client: Option<(&str, &str)>) -> anyhow::Result<ureq::Agent> {
    tls_agent(ca, client, CLIENT)
}

/// A TLS connection to the server from `source` (a loopback address of our choosing).
fn connect_from(server: &Server, source: &str) -> anyhow::Result<SslStream<TcpStream>> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&format!("{source}:0").parse::<SocketAddr>()?.into())?;
    socket.connect(&server.addr.into())?;
    let tcp: TcpStream = socket.into();
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut tls = SslConnector::builder(SslMethod::tls_client())?;
    tls.cert_store_mut()
        .add_cert(openssl::x509::X509::from_pem(server.ca.as_bytes())?)?;
    Ok(tls.build().connect("localhost", tcp)?)
}

/// Reads one HTTP/1.1 answer with a `Content-Length` body; its status.
fn read_answer(s: &mut SslStream<TcpStream>) -> anyhow::Result<u16> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            bail!("connection closed");
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf);
    let status = head.get(9..12).context("no status")?.parse()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    s.read_exact(&mut body)?;
    Ok(status)
}

/// Health checks every 50 ms from 127.0.0.2 until stopped: their latencies. Returns once
/// its connection is up, so the TLS handshake is not counted; a reconnect later is.
fn probe(server: Arc<Server>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    let (ready, connected) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut times = Vec::new();
        let mut conn = connect_from(&server, "127.0.0.2").ok();
        let _ = ready.send(());
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let result = (|| -> anyhow::Result<u16> {
                if conn.is_none() {
                    conn = Some(connect_from(&server, "127.0.0.2")?);
                }
                let s = conn.as_mut().context("no connection")?;
                s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
                read_answer(s)
            })();
            // A failed probe counts as slow as it was, and reconnects.
            if !matches!(result, Ok(200)) {
                conn = None;
            }
            times.push(started.elapsed());
            std::thread::sleep(Duration::from_millis(50));
        }
        times
    });
    let _ = connected.recv();
    handle
}

struct Outcome {
    case: &'static str,
    answers: String,
    peak_over_idle: u64,
    health: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `work` (again and again, `pace` apart, until `at_least` has passed, so that short
/// cases get enough health probes and people's requests stay within their rate budget)
/// while probing health, and prints the case's row.
fn measure(
    server: &Arc<Server>,
    case: &'static str,
    (at_least, pace): (Duration, Duration),
    mut work: impl FnMut() -> String,
) -> Outcome {
    std::thread::sleep(Duration::from_secs(1));
    let (idle, _) = server.memory();
    server.reset_peak();
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(server.clone(), stop.clone());
    let started = Instant::now();
    let (mut answers, mut rounds) = (work(), 1u32);
    while started.elapsed() < at_least {
        std::thread::sleep(pace);
        answers = work();
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut health = prober.join().unwrap_or_default();
    health.sort();
    let (_, peak) = server.memory();
    let o = Outcome {
        case,
        answers: if rounds > 1 {
            format!("{answers} (each of {rounds} rounds)")
        } else {
            answers
        },
        peak_over_idle: peak.saturating_sub(idle),
        health,
    };
    println!(
        "| {} | {} | {:.0} | {} | {:.1} / {:.1} / {:.1} |",
        o.case,
        o.answers,
        o.peak_over_idle as f64 / 1e6,
        o.health.len(),
        percentile(&o.health, 0.5),
        percentile(&o.health, 0.99),
        o.health.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    o
}

/// Counts answers by status: `"413 ×2"`.
fn tally(statuses: impl IntoIterator<Item = u16>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Fixture {
    server: Arc<Server>,
    admin: String,
    people: ureq::Agent,
    collectors: Vec<Collector>,
}

impl Fixture {
    fn new(server: Server) -> anyhow::Result<Self> {
        let people = agent(&server.ca, None)?;
        let mut r = people
            .post(&format!("{}/api/v1/auth/login", server.base))
            .send_json(json!({"username": "admin", "password": ADMIN_PASSWORD}))?;
        let login: Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
        let access = login["access_token"].as_str().context("login failed")?;
        let mut r = people
            .post(&format!("{}/api/v1/api-tokens", server.base))
            .header("Authorization", &format!("Bearer {access}"))
            .send_json(json!({"name": "abuse", "role": "admin"}))?;
        let token: Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
        let admin = token["token"].as_str().context("no API token")?.to_owned();
        let mut r = people
            .post(&format!("{}/api/v1/registration-tokens", server.base))
            .header("Authorization", &format!("Bearer {admin}"))
            .send_json(json!({"uses": 8}))?;
        let reg: Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
        let reg = reg["token"]
            .as_str()
            .context("no registration token")?
            .to_owned();
        let collectors = (0..6)
            .map(|i| enrol(&server.base, &server.ca, &reg, &format!("abuse{i}"), CLIENT))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            server: Arc::new(server),
            admin,
            people,
            collectors,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    fn push(&self, c: &Collector, json: &[u8]) -> u16 {
        let body = zstd::encode_all(json, 3).unwrap_or_default();
        self.push_raw(c, &body)
    }

    fn push_raw(&self, c: &Collector, zstd: &[u8]) -> u16 {
        c.agent
            .post(&self.url("/api/v1/metrics/push"))
            .header("Authorization", &format!("Bearer {}", c.token))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "zstd")
            .send(zstd)
            .map_or(0, |r| r.status().as_u16())
    }

    fn get(&self, path: &str) -> (u16, usize) {
        match self
            .people
            .get(&self.url(path))
            .header("X-API-Key", &self.admin)
            .call()
        {
            Ok(mut r) => (
                r.status().as_u16(),
                r.body_mut()
                    .with_config()
                    .limit(1 << 30)
                    .read_to_vec()
                    .map_or(0, |b| b.len()),
            ),
            Err(_) => (0, 0),
        }
    }
}

/// A `pg_database` batch of the given rows (`[datname, numbackends]`).
fn database_batch(collector: &str, batch_id: &str, rows: Vec<Value>) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::to_vec(&json!({
        "version": 1, "batch_id": batch_id, "collector_id": collector,
        "agent_version": "abuse", "collected_at": now,
        "metrics": [{"family": "pg_database", "instance": "db", "columns": ["datname", "numbackends"], "rows": rows}]
    }))
    .unwrap_or_default()
}

/// Finding 1: a few KB of zstd that inflate to 62 MiB of one-digit cells.
fn tiny_cells_bomb(collector: &str) -> Vec<u8> {
    let row = format!("[{}]", vec!["0"; 250].join(","));
    let rows = (62 * 1024 * 1024) / (row.len() + 1);
    let json = database_batch(collector, &uuid::Uuid::new_v4().to_string(), Vec::new());
    let text = String::from_utf8_lossy(&json).replace(
        "\"rows\":[]",
        &format!("\"rows\":[{}]", vec![row.as_str(); rows].join(",")),
    );
    zstd::encode_all(text.as_bytes(), 3).unwrap_or_default()
}

/// Finding 5: `count` clients each sending a request head and then one body byte every
/// 2 s; how long until the server cut them all.
fn slow_bodies(server: &Server, count: usize) -> String {
    let started = Instant::now();
    let clients: Vec<_> = (0..count)
        .map(|i| {
            let source = format!("127.0.1.{}", i + 1);
            let s = connect_from(server, &source);
            std::thread::spawn(move || -> anyhow::Result<(u16, Duration)> {
                let mut s = s?;
                let t = Instant::now();
                s.write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")?;
                s.get_ref().set_read_timeout(Some(Duration::from_secs(2)))?;
                loop {
                    let mut b = [0u8; 1];
                    match s.read(&mut b) {
                        Ok(_) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e.into()),
                    }
                    if t.elapsed() > Duration::from_secs(120) {
                        bail!("never cut");
                    }
                    let _ = s.write_all(b" ");
                }
                s.get_ref().set_read_timeout(Some(Duration::from_secs(30)))?;
                // The first byte of the answer was read; read the rest.
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
                let status = String::from_utf8_lossy(&rest)
                    .get(8..11)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok((status, t.elapsed()))
            })
        })
        .collect();
    let results: Vec<_> = clients
        .into_iter()
        .map(|c| c.join().ok().and_then(Result::ok))
        .collect();
    let longest = results
        .iter()
        .flatten()
        .map(|(_, d)| *d)
        .max()
        .unwrap_or_default();
    format!(
        "{}; cut after at most {:.1} s (all done in {:.1} s)",
        tally(results.iter().map(|r| r.map_or(0, |(s, _)| s))),
        longest.as_secs_f64(),
        started.elapsed().as_secs_f64()
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (_tmp, dir) = scratch_dir("pganalytics-abuse", args.data_dir.as_deref())?;
    eprintln!("starting the server in {}", dir.display());
    let f = Fixture::new(Server::start(&dir)?)?;
    let run = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let c0 = &f.collectors[0];

    // The server in the catalog with 2,002 label sets, for the query case.
    let rows: Vec<Value> = (0..2002).map(|i| json!([format!("db{i}"), i])).collect();
    let seeded = f.push(
        c0,
        &database_batch(&c0.id, &uuid::Uuid::new_v4().to_string(), rows),
    );
    anyhow::ensure!(seeded == 200, "seeding push answered {seeded}");
    let (_, servers_len) = f.get("/api/v1/servers");
    anyhow::ensure!(servers_len > 0, "no server listed");
    let server_id = {
        let mut r = f
            .people
            .get(&f.url("/api/v1/servers"))
            .header("X-API-Key", &f.admin)
            .call()?;
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
        v["servers"][0]["id"].as_i64().context("no server id")?
    };

    println!(
        "| case | answers | peak RSS over idle (MB) | health probes | health p50 / p99 / max (ms) |"
    );
    println!("|---|---|---|---|---|");
    let mut outcomes = Vec::new();
    if run("bomb") {
        let bomb = tiny_cells_bomb(&c0.id);
        eprintln!("tiny-cells bomb: {} bytes of zstd", bomb.len());
        outcomes.push(measure(
            &f.server,
            "1. push: 62 MiB of tiny cells, 1 request",
            FIVE_S,
            || tally([f.push_raw(c0, &bomb)]),
        ));
        outcomes.push(measure(
            &f.server,
            "1. push: the same, 2 at once",
            FIVE_S,
            || {
                std::thread::scope(|s| {
                    let a = s.spawn(|| f.push_raw(&f.collectors[1], &bomb));
                    let b = s.spawn(|| f.push_raw(&f.collectors[2], &bomb));
                    tally([a.join().unwrap_or(0), b.join().unwrap_or(0)])
                })
            },
        ));
    }
    if run("query") {
        let columns = vec!["numbackends"; 500].join(",");
        outcomes.push(measure(
            &f.server,
            "2. query: one column ×500 over 2,002 series",
            FIVE_S_PACED,
            || {
                let (status, bytes) = f.get(&format!(
                    "/api/v1/servers/{server_id}/metrics?family=pg_database&columns={columns}"
                ));
                format!("{} ({:.1} MB)", tally([status]), bytes as f64 / 1e6)
            },
        ));
        outcomes.push(measure(&f.server, "2. query: 2,002 series × 10,800 steps", FIVE_S_PACED, || {
            let to = time::OffsetDateTime::now_utc();
            let fmt = |t: time::OffsetDateTime| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
                    .replace('+', "%2B")
            };
            let (status, _) = f.get(&format!(
                "/api/v1/servers/{server_id}/metrics?family=pg_database&columns=numbackends&from={}&to={}&step=1s",
                fmt(to - time::Duration::hours(3)),
                fmt(to)
            ));
            tally([status])
        }));
    }
    if run("audit") {
        outcomes.push(measure(
            &f.server,
            "3. audit log: `target=%00`, `action=%00`, `actor_id=%00`",
            FIVE_S_PACED,
            || {
                tally(
                    ["target", "action", "actor_id"]
                        .map(|p| f.get(&format!("/api/v1/audit-log?{p}=%00")).0),
                )
            },
        ));
    }
    if run("login") {
        outcomes.push(measure(
            &f.server,
            "4. 30 failed logins for admin, then the right password from elsewhere",
            ONCE,
            || {
                let mut statuses: Vec<u16> = (0..30)
                    .map(|_| {
                        f.people
                            .post(&f.url("/api/v1/auth/login"))
                            .send_json(json!({"username": "admin", "password": "wrong-password-123"}))
                            .map_or(0, |r| r.status().as_u16())
                    })
                    .collect();
                // The right password, from 127.0.0.3.
                let right = connect_from(&f.server, "127.0.0.3").and_then(|mut s| {
                    let body = json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string();
                    write!(
                        s,
                        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )?;
                    read_answer(&mut s)
                });
                statuses.push(right.unwrap_or(0));
                format!(
                    "{}; the right password from elsewhere: {}",
                    tally(statuses[..30].iter().copied()),
                    statuses[30]
                )
            },
        ));
    }
    if run("slow") {
        outcomes.push(measure(
            &f.server,
            "5. 20 clients sending a body byte every 2 s",
            ONCE,
            || slow_bodies(&f.server, 20),
        ));
    }
    if run("batch") {
        outcomes.push(measure(
            &f.server,
            "6. one batch id from two collectors",
            FIVE_S,
            || {
                let id = uuid::Uuid::new_v4().to_string();
                let rows = vec![json!(["postgres", 1])];
                let a = f.push(
                    &f.collectors[3],
                    &database_batch(&f.collectors[3].id, &id, rows.clone()),
                );
                let b = f.push(
                    &f.collectors[4],
                    &database_batch(&f.collectors[4].id, &id, rows),
                );
                tally([a, b])
            },
        ));
    }
    if run("hostile") {
        outcomes.push(measure(
            &f.server,
            "7. hostile requests ×1,000 (TRACE, arrays, control characters, two credentials)",
            ONCE,
            || {
                let statuses = (0..250).flat_map(|_| {
                    [
                        ureq::http::Request::builder()
                            .method("TRACE")
                            .uri(f.url("/api/v1/users"))
                            .body(())
                            .ok()
                            .and_then(|req| f.people.run(req).ok())
                            .map_or(0, |r| r.status().as_u16()),
                        f.people
                            .post(&f.url("/api/v1/registration-tokens"))
                            .header("X-API-Key", &f.admin)
                            .content_type("application/json")
                            .send("[1,2]")
                            .map_or(0, |r| r.status().as_u16()),
                        f.get("/api/v1/audit-log?action=%1b%5b31m").0,
                        f.people
                            .get(&f.url("/api/v1/users"))
                            .header("X-API-Key", &f.admin)
                            .header("Authorization", "Bearer bogus")
                            .call()
                            .map_or(0, |r| r.status().as_u16()),
                    ]
                });
                tally(statuses.collect::<Vec<_>>())
            },
        ));
    }
    if run("flood") {
        outcomes.push(measure(
            &f.server,
            "8. a flood of valid pushes (4 collectors × 100 batches of 1,000 rows)",
            ONCE,
            || {
                std::thread::scope(|s| {
                    let workers: Vec<_> = f.collectors[..4]
                        .iter()
                        .map(|c| {
                            let f = &f;
                            s.spawn(move || {
                                (0..100)
                                    .map(|i| {
                                        let rows = (0..1000)
                                            .map(|t| json!([format!("db{t}"), i]))
                                            .collect();
                                        f.push(
                                            c,
                                            &database_batch(
                                                &c.id,
                                                &uuid::Uuid::new_v4().to_string(),
                                                rows,
                                            ),
                                        )
                                    })
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    tally(
                        workers
                            .into_iter()
                            .flat_map(|w| w.join().unwrap_or_default()),
                    )
                })
            },
        ));
    }
    let worst = outcomes.iter().map(|o| o.peak_over_idle).max().unwrap_or(0);
    println!(
        "\nworst peak RSS over idle: {:.0} MB (target ≤ 256 MB)",
        worst as f64 / 1e6
    );
    Ok(())
}
