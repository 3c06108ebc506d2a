//! A private PostgreSQL cluster started from the installed server binaries: the server's
//! zero-configuration default and the test harness.
//!
//! - Binaries are looked up in this order: an explicit directory, `PATH`,
//!   `pg_config --bindir`, then `/usr/lib/postgresql/*/bin` newest first.
//! - The cluster listens only on a Unix socket in a directory of its own (no TCP port to
//!   collide with), with trust authentication for the `postgres` role: nobody but this
//!   machine's root and `postgres` users can reach the socket directory.
//! - PostgreSQL refuses to run as root. When we are root the cluster runs as the OS user
//!   `postgres` (through util-linux `setpriv`), and its directories belong to that user.
//! - The postmaster is our child and gets SIGINT (fast shutdown) when the thread that
//!   started it ends, so a killed test run or server never leaves a server behind. That
//!   thread lives exactly as long as the postmaster: it spawns it, then waits for it.
//! - When the data directory already has a live postmaster (another process of ours, such
//!   as a running server when a CLI subcommand starts), we attach to it instead.

use std::fs;
use std::io::{self, BufRead};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LocalPgError {
    #[error(
        "no PostgreSQL server binaries found (looked for `initdb` and `postgres` in {searched}).\n\
         Fix: install them (Debian/Ubuntu: `apt-get install postgresql`), or point \
         PGANALYTICS_PG_BINDIR at a directory holding `initdb` and `postgres`."
    )]
    BinariesNotFound { searched: String },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("PostgreSQL did not become ready within {0:?}; its log says:\n{1}")]
    NotReady(Duration, String),
    #[error("PostgreSQL exited while starting; its log says:\n{0}")]
    ExitedAtStart(String),
    #[error("the socket path {0} is too long for a Unix socket; use a shorter data directory")]
    SocketPathTooLong(PathBuf),
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "running as root, but the OS user `postgres` does not exist to run PostgreSQL as.\nFix: `useradd --system postgres`, or run as an unprivileged user."
    )]
    NoPostgresUser,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LocalPgError + '_ {
    move |source| LocalPgError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether this process runs as root (PostgreSQL will then run as `postgres`).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where the PostgreSQL server binaries are.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bindir: PathBuf,
}

impl PgBinaries {
    pub fn locate(explicit: Option<&Path>) -> Result<Self, LocalPgError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        candidates.extend(explicit.map(Path::to_path_buf));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
            && out.status.success()
        {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
        candidates.extend(debian_bindirs());
        let found = candidates
            .iter()
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
        match found {
            // PATH entries may be symlinks into the real bindir (Debian puts wrappers in
            // /usr/local/bin); resolve so `postgres` finds its share/ and lib/ directories.
            Some(d) => Ok(Self {
                bindir: fs::canonicalize(d.join("postgres"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or_else(|| d.clone()),
            }),
            None => Err(LocalPgError::BinariesNotFound {
                searched: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Whether these binaries ship the loadable module `name` (e.g. `pg_stat_statements`,
    /// which a release without contrib lacks).
    pub fn has_module(&self, name: &str) -> bool {
        let pkglib = Command::new(self.bin("pg_config"))
            .arg("--pkglibdir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let parent = self.bindir.parent();
        [
            pkglib,
            parent.map(|p| p.join("lib")),
            parent.map(|p| p.join("lib/postgresql")),
        ]
        .into_iter()
        .flatten()
        .any(|dir| dir.join(format!("{name}.so")).is_file())
    }
}

fn debian_bindirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

/// How to run a private cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The cluster lives in `<dir>/pgdata`, its socket in `<dir>/run`, its log in `<dir>/postgres.log`.
    pub dir: PathBuf,
    pub binaries: PgBinaries,
    /// Durability off for throwaway test clusters; always on for anything that keeps data.
    pub fsync: bool,
    pub max_connections: u32,
    pub port: u16,
    /// Extra `-c name=value` settings.
    pub settings: Vec<(String, String)>,
    /// Make the cluster a streaming standby of the primary at this connection URL
    /// (`pg_basebackup -R`) instead of running `initdb`.
    pub standby_of: Option<String>,
    /// The `pg_basebackup` for `standby_of`; default: the one beside the server binaries
    /// (builds without client tools need another, of the same or a newer release).
    pub pg_basebackup: Option<PathBuf>,
    /// Environment variables for the postmaster (`LOCPATH` for locales generated privately).
    pub env: Vec<(String, String)>,
}

impl ClusterOptions {
    pub fn new(dir: impl Into<PathBuf>, binaries: PgBinaries) -> Self {
        Self {
            dir: dir.into(),
            binaries,
            fsync: true,
            max_connections: 100,
            port: 5432,
            settings: Vec::new(),
            standby_of: None,
            pg_basebackup: None,
            env: Vec::new(),
        }
    }
}

/// A running private cluster. Dropping it stops the postmaster if this value started it.
#[derive(Debug)]
pub struct LocalCluster {
    opts: ClusterOptions,
    owned: Option<OwnedPostmaster>,
}

#[derive(Debug)]
struct OwnedPostmaster {
    pid: i32,
    /// Receives once when the postmaster has exited. In a mutex so the cluster is `Sync`
    /// (test harnesses keep one in a `static`).
    exited: std::sync::Mutex<mpsc::Receiver<()>>,
}

impl OwnedPostmaster {
    fn has_exited(&self) -> bool {
        self.exited
            .lock()
            .map(|rx| rx.try_recv().is_ok())
            .unwrap_or(true)
    }
    fn wait_exit(&self, timeout: Duration) {
        if let Ok(rx) = self.exited.lock() {
            let _ = rx.recv_timeout(timeout);
        }
    }
}

/// The OS identity PostgreSQL runs as: ourselves, or `postgres` when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
    drop_root: bool,
}

impl RunAs {
    fn detect() -> Result<Self, LocalPgError> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Self {
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
                drop_root: false,
            });
        }
        let user = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or(LocalPgError::NoPostgresUser)?;
        Ok(Self {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            drop_root: true,
        })
    }

    fn command(&self, program: &Path, pdeathsig: bool) -> Command {
        let mut cmd = Command::new("setpriv");
        if self.drop_root {
            cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
        }
        if pdeathsig {
            cmd.arg("--pdeathsig=INT");
        }
        cmd.arg("--").arg(program);
        cmd
    }

    fn own(&self, path: &Path) -> Result<(), LocalPgError> {
        if self.drop_root {
            nix::unistd::chown(path, Some(self.uid.into()), Some(self.gid.into()))
                .map_err(|e| io_err(path)(io::Error::from(e)))?;
        }
        Ok(())
    }
}

impl LocalCluster {
    /// Initialises the cluster if it does not exist yet, then starts it (or attaches to the
    /// postmaster already running on it) and waits until it accepts connections.
    pub fn start(mut opts: ClusterOptions) -> Result<Self, LocalPgError> {
        // PostgreSQL changes into its data directory before it creates the socket, so a
        // relative socket directory would resolve against pgdata (and the default data
        // directory is relative).
        opts.dir = std::path::absolute(&opts.dir).map_err(io_err(&opts.dir))?;
        let run_as = RunAs::detect()?;
        let socket = opts.dir.join("run").join(format!(".s.PGSQL.{}", opts.port));
        if socket.as_os_str().len() > 100 {
            return Err(LocalPgError::SocketPathTooLong(socket));
        }
        prepare_dirs(&opts, run_as)?;
        let pgdata = opts.dir.join("pgdata");
        if !pgdata.join("PG_VERSION").exists() {
            match &opts.standby_of {
                Some(primary) => basebackup(&opts, run_as, &pgdata, primary)?,
                None => initdb(&opts, run_as, &pgdata)?,
            }
        }
        if let Some(pid) = live_postmaster(&pgdata) {
            let cluster = Self { opts, owned: None };
            cluster.wait_ready(pid, None)?;
            return Ok(cluster);
        }
        let owned = spawn_postmaster(&opts, run_as)?;
        let mut cluster = Self { opts, owned: None };
        let ready = cluster.wait_ready(owned.pid, Some(&owned));
        cluster.owned = Some(owned);
        ready.map(|()| cluster)
    }

    /// A libpq-style URL for `database` over the private socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql:///{database}?host={}&port={}&user=postgres",
            self.socket_dir().display(),
            self.opts.port
        )
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.opts.dir.join("run")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.opts.dir.join("pgdata")
    }

    pub fn log_file(&self) -> PathBuf {
        self.opts.dir.join("postgres.log")
    }

    /// Whether this value started the postmaster (and will stop it when dropped).
    pub fn owns_postmaster(&self) -> bool {
        self.owned.is_some()
    }

    /// The postmaster's pid, from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        live_postmaster(&self.data_dir())
    }

    fn wait_ready(&self, pid: i32, owned: Option<&OwnedPostmaster>) -> Result<(), LocalPgError> {
        let timeout = Duration::from_secs(60);
        let start = Instant::now();
        let pidfile = self.data_dir().join("postmaster.pid");
        while start.elapsed() < timeout {
            if owned.is_some_and(OwnedPostmaster::has_exited) {
                return Err(LocalPgError::ExitedAtStart(tail(&self.log_file(), 20)));
            }
            let status = fs::read_to_string(&pidfile).ok();
            let ready = status.as_deref().is_some_and(|s| {
                let lines: Vec<&str> = s.lines().collect();
                lines.first().and_then(|l| l.trim().parse::<i32>().ok()) == Some(pid)
                    && lines.get(7).is_some_and(|l| l.trim() == "ready")
            });
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(LocalPgError::NotReady(timeout, tail(&self.log_file(), 20)))
    }

    /// Stops the postmaster if we own it (fast shutdown), waiting for it to exit.
    pub fn stop(&mut self) {
        if let Some(owned) = self.owned.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(owned.pid),
                nix::sys::signal::Signal::SIGINT,
            );
            owned.wait_exit(Duration::from_secs(30));
        }
    }

    /// Starts the postmaster again after [`stop`](Self::stop).
    pub fn restart(&mut self) -> Result<(), LocalPgError> {
        self.stop();
        let owned = spawn_postmaster(&self.opts, RunAs::detect()?)?;
        let ready = self.wait_ready(owned.pid, Some(&owned));
        self.owned = Some(owned);
        ready
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn prepare_dirs(opts: &ClusterOptions, run_as: RunAs) -> Result<(), LocalPgError> {
    fs::create_dir_all(&opts.dir).map_err(io_err(&opts.dir))?;
    if run_as.drop_root {
        // `postgres` must be able to traverse into the directory; it holds nothing readable
        // to others at this level (the server's keys are 0600 files).
        let mode = fs::metadata(&opts.dir)
            .map_err(io_err(&opts.dir))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            fs::set_permissions(
                &opts.dir,
                fs::Permissions::from_mode((mode & 0o7777) | 0o711),
            )
            .map_err(io_err(&opts.dir))?;
        }
    }
    for sub in ["pgdata", "run"] {
        let p = opts.dir.join(sub);
        fs::create_dir_all(&p).map_err(io_err(&p))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).map_err(io_err(&p))?;
        run_as.own(&p)?;
    }
    let log = opts.dir.join("postgres.log");
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io_err(&log))?;
    fs::set_permissions(&log, fs::Permissions::from_mode(0o600)).map_err(io_err(&log))?;
    run_as.own(&log)
}

fn initdb(opts: &ClusterOptions, run_as: RunAs, pgdata: &Path) -> Result<(), LocalPgError> {
    let mut cmd = run_as.command(&opts.binaries.bin("initdb"), false);
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
    if !opts.fsync {
        cmd.arg("-N");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(&opts.binaries.bindir))?;
    if !out.status.success() {
        return Err(LocalPgError::Command {
            command: format!("initdb -D {}", pgdata.display()),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

fn basebackup(
    opts: &ClusterOptions,
    run_as: RunAs,
    pgdata: &Path,
    primary: &str,
) -> Result<(), LocalPgError> {
    let tool = opts
        .pg_basebackup
        .clone()
        .unwrap_or_else(|| opts.binaries.bin("pg_basebackup"));
    let out = run_as
        .command(&tool, false)
        .arg("-D")
        .arg(pgdata)
        .args(["-d", primary, "-R", "-X", "stream", "-c", "fast"])
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(&opts.binaries.bindir))?;
    if !out.status.success() {
        return Err(LocalPgError::Command {
            command: format!("pg_basebackup -D {}", pgdata.display()),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    if opts.pg_basebackup.is_some() {
        // Another release's pg_basebackup writes the connection options of its own libpq
        // (`sslnegotiation`, …), which an older server's walreceiver refuses: connect with
        // the primary's URL alone (the last setting in the file wins).
        let auto = pgdata.join("postgresql.auto.conf");
        let mut conf = fs::read_to_string(&auto).map_err(io_err(&auto))?;
        conf.push_str(&format!(
            "primary_conninfo = '{}'\n",
            primary.replace('\'', "''")
        ));
        fs::write(&auto, conf).map_err(io_err(&auto))?;
    }
    Ok(())
}

fn spawn_postmaster(opts: &ClusterOptions, run_as: RunAs) -> Result<OwnedPostmaster, LocalPgError> {
    let log_path = opts.dir.join("postgres.log");
    let log = fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .map_err(io_err(&log_path))?;
    let log2 = log.try_clone().map_err(io_err(&log_path))?;
    let mut cmd = run_as.command(&opts.binaries.bin("postgres"), true);
    cmd.arg("-D").arg(opts.dir.join("pgdata"));
    cmd.arg("-k")
        .arg(opts.dir.join("run"))
        .arg("-p")
        .arg(opts.port.to_string());
    let mut settings = vec![
        ("listen_addresses".to_owned(), String::new()),
        (
            "max_connections".to_owned(),
            opts.max_connections.to_string(),
        ),
        (
            "fsync".to_owned(),
            if opts.fsync { "on" } else { "off" }.to_owned(),
        ),
        ("logging_collector".to_owned(), "off".to_owned()),
    ];
    if !opts.fsync {
        settings.push(("synchronous_commit".into(), "off".into()));
        settings.push(("full_page_writes".into(), "off".into()));
    }
    settings.extend(opts.settings.iter().cloned());
    for (k, v) in settings {
        cmd.arg("-c").arg(format!("{k}={v}"));
    }
    cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);

    // The spawning thread must outlive the postmaster, because the parent-death signal
    // fires when the *thread* that forked it ends. So that thread spawns and then waits.
    let (pid_tx, pid_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("postmaster".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = pid_tx.send(Ok(child.id() as i32));
                let _ = child.wait();
                let _ = exit_tx.send(());
            }
            Err(e) => {
                let _ = pid_tx.send(Err(e));
            }
        })
        .map_err(io_err(&opts.dir))?;
    let pid = pid_rx
        .recv()
        .map_err(|_| LocalPgError::Command {
            command: "postgres".into(),
            detail: "the spawning thread died".into(),
        })?
        .map_err(io_err(&opts.binaries.bindir))?;
    Ok(OwnedPostmaster {
        pid,
        exited: std::sync::Mutex::new(exit_rx),
    })
}

/// The pid in `postmaster.pid`, if that process is alive.
fn live_postmaster(pgdata: &Path) -> Option<i32> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        .ok()
        .map(|()| pid)
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(f) = fs::File::open(path) else {
        return String::from("(no log)");
    };
    let all: Vec<String> = io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Test clusters live in `<base>/<pid>-<n>` directories; this removes those whose process
/// is gone (a test run that was killed before it could clean up).
pub fn reap_stale_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive && live_postmaster(&e.path().join("pgdata")).is_none() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_reported_with_the_fix() {
        let msg = LocalPgError::BinariesNotFound {
            searched: "/nowhere".into(),
        }
        .to_string();
        assert!(
            msg.contains("apt-get install postgresql")
                && msg.contains("PGANALYTICS_PG_BINDIR")
                && msg.contains("/nowhere"),
            "{msg}"
        );
    }

    #[test]
    fn an_explicit_directory_without_the_binaries_is_passed_over() {
        let empty = tempfile::tempdir().unwrap();
        if let Ok(found) = PgBinaries::locate(Some(empty.path())) {
            assert_ne!(found.bindir, empty.path());
            assert!(
                found.bindir.join("initdb").is_file() && found.bindir.join("postgres").is_file()
            );
        }
    }
}
