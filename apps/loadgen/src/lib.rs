//! Shared by the benchmarks: the server started in-process, and CPU accounting from /proc.

use pganalytics_server::harness::{Store, TestServer};
use pganalytics_server::settings::Settings;

/// CPU seconds (user + system) used so far by the server's threads, the rest of this
/// process (the simulated collectors), and every PostgreSQL process of the cluster.
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

pub fn cpu_now(postmaster: i32) -> Cpu {
    let mut cpu = Cpu::default();
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
            if comm.starts_with("actix") {
                cpu.server += secs
            } else {
                cpu.client += secs
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
