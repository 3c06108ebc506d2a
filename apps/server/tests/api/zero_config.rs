//! The README's run command: `pganalytics-server demo` with no configuration starts its own
//! PostgreSQL cluster, serves, prints working tokens; the CLI works beside it and without
//! it; killing the server takes its PostgreSQL down too. PostgreSQL only: the zero-configuration
//! default is the server on its private cluster.

use crate::helpers::reply;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The server binary run the README's way: from a working directory, with the data directory
/// given relative to it (the default, `pganalytics-data`, is relative).
pub(crate) fn server_cmd(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pganalytics-server"));
    cmd.current_dir(data_dir.parent().unwrap())
        .env("PGANALYTICS_DATA_DIR", data_dir.file_name().unwrap())
        .env("PGANALYTICS_LISTEN", "127.0.0.1:0")
        .env("PGANALYTICS_LOG_FORMAT", "json")
        .env_remove("PGANALYTICS_DATABASE_URL");
    cmd
}

/// Runs a CLI subcommand to success and returns its stdout.
fn cli(data_dir: &Path, args: &[&str]) -> String {
    let out = server_cmd(data_dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `pganalytics-server demo` and reads its banner: (process, url, registration token, API token).
fn start_demo(data_dir: &Path) -> (Child, String, String, String) {
    start_demo_with(data_dir, &[])
}

/// [`start_demo`] with more environment variables.
pub(crate) fn start_demo_with(
    data_dir: &Path,
    env: &[(&str, &str)],
) -> (Child, String, String, String) {
    let mut child = server_cmd(data_dir)
        .envs(env.iter().copied())
        .arg("demo")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (url, reg, api) = banner(&mut child);
    (child, url, reg, api)
}

/// Reads the demo's banner from stderr: (url, registration token, API token).
fn banner(child: &mut Child) -> (String, String, String) {
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut url, mut reg, mut api) = (None, None, None);
    for line in stderr.lines() {
        let line = line.unwrap();
        let value = || line.split_whitespace().nth(2).map(str::to_owned);
        if line.starts_with("pgAnalytics server is running at ") {
            url = line.rsplit(' ').next().map(str::to_owned);
        } else if line.starts_with("registration token:") {
            reg = value();
        } else if line.starts_with("API token:") {
            api = value();
        } else if line.starts_with("Ctrl-C stops") {
            break;
        }
    }
    (
        url.expect("url in banner"),
        reg.expect("registration token in banner"),
        api.expect("API token in banner"),
    )
}

fn postmaster_alive(data_dir: &Path) -> bool {
    let Ok(pidfile) = std::fs::read_to_string(data_dir.join("postgres/pgdata/postmaster.pid"))
    else {
        return false;
    };
    let pid = pidfile.lines().next().unwrap_or("").trim();
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether an agent process of this data directory's demo is running.
fn agent_running(data_dir: &Path) -> bool {
    let state = data_dir.join("demo-agent");
    let needle = state.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .any(|c| c.contains(" agent run ") && c.contains(&needle) && !c.starts_with("setpriv"))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_demo_runs_on_its_own_cluster_and_the_cli_works_with_and_without_it() {
    // Under the test root: when run as root, PostgreSQL (as `postgres`) must traverse it.
    let root = pganalytics_adapters::testing::test_root();
    std::fs::create_dir_all(&root).unwrap();
    let data = tempfile::Builder::new()
        .prefix(&format!("{}-demo", std::process::id()))
        .tempdir_in(&root)
        .unwrap();

    let (mut demo, url, reg, api) = start_demo(data.path());
    assert!(reg.starts_with("pgar_") && api.starts_with("pga_"));
    let ca = Certificate::from_pem(&std::fs::read(data.path().join("ca.pem")).unwrap()).unwrap();
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[ca]))
        .build();
    let client: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let health = reply(client.get(&format!("{url}/api/v1/health")).call());
    assert_eq!(
        (health.status, health.body["database"].as_str()),
        (200, Some("ok"))
    );
    // The demo's own agent monitors the cluster: live data shows up by itself.
    let get = |path: &str| {
        reply(
            client
                .get(&format!("{url}/api/v1{path}"))
                .header("Authorization", &format!("Bearer {api}"))
                .call(),
        )
    };
    wait_until("the demo agent's first batch", || {
        get("/servers").body["servers"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    });
    let servers = get("/servers");
    assert_eq!(servers.body["servers"][0]["instance"], "main");
    let id = servers.body["servers"][0]["id"].as_i64().unwrap();
    let series = get(&format!(
        "/servers/{id}/metrics?family=pg_database&columns=size_bytes"
    ));
    assert!(
        series.body["series"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{}",
        series.body
    );
    assert!(agent_running(data.path()), "the demo's agent runs");

    // It tails the private cluster's server log: an error there becomes an event.
    {
        use diesel::Connection as _;
        use diesel::connection::SimpleConnection as _;
        let url = format!(
            "postgresql:///postgres?host={}&user=postgres",
            data.path().join("postgres/run").display()
        );
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        let _ = conn.batch_execute("SELECT * FROM zero_config_missing_table");
    }
    wait_until("the error in the server log to arrive as an event", || {
        let events = get(&format!("/servers/{id}/metrics?family=pg_log_event"));
        events.body["series"].as_array().is_some_and(|s| {
            s.iter().any(|s| {
                s["labels"]["kind"] == "undefined_table" && s["labels"]["sqlstate"] == "42P01"
            })
        })
    });

    // Beside the running server, the CLI attaches to its cluster.
    assert!(
        cli(data.path(), &["registration-token", "create"])
            .trim()
            .starts_with("pgar_")
    );
    assert!(
        postmaster_alive(data.path()),
        "the CLI must not stop the server's cluster"
    );

    // Killed without a chance to clean up, the server still takes PostgreSQL with it.
    demo.kill().unwrap();
    demo.wait().unwrap();
    wait_until("the private PostgreSQL to stop", || {
        !postmaster_alive(data.path())
    });
    wait_until("the demo's agent to stop", || !agent_running(data.path()));

    // Without a server, the CLI starts the cluster for the command and stops it after.
    let token = cli(data.path(), &["api-token", "create", "--name", "script"])
        .trim()
        .to_owned();
    assert!(
        token.starts_with("pga_") && !token.contains('\n'),
        "only the bare token on stdout: {token:?}"
    );
    assert!(!postmaster_alive(data.path()));

    // The data survived: a new server on the same directory accepts the token made offline.
    let (mut serve, url, _, _) = start_demo(data.path());
    let r = reply(
        client
            .get(&format!("{url}/api/v1/collectors"))
            .header("Authorization", &format!("Bearer {token}"))
            .call(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    serve.kill().unwrap();
    serve.wait().unwrap();
    wait_until("the private PostgreSQL to stop", || {
        !postmaster_alive(data.path())
    });
}
