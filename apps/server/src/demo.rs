//! `pganalytics-server demo`: the server on its private cluster, plus an agent registered
//! against it that monitors that same cluster and this host, so a newcomer sees live data
//! within a minute. The agent is the real one, run as a child process of this executable
//! (`pganalytics-server agent …` is the agent's command line), with its state and log in the
//! data directory, and it dies with the demo (parent-death signal, as the cluster does).

use anyhow::Context as _;
use secrecy::ExposeSecret;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::app::Backend;
use crate::settings::Settings;

pub struct DemoAgent {
    pub state_dir: PathBuf,
    pub log_file: PathBuf,
    pub collector_name: String,
    child: Child,
}

impl std::fmt::Debug for DemoAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoAgent")
            .field("state_dir", &self.state_dir)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Drop for DemoAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_command(exe: &Path, pdeathsig: bool) -> Command {
    // util-linux setpriv, as for the private cluster: the agent gets SIGTERM when we die.
    let mut cmd = Command::new("setpriv");
    if pdeathsig {
        cmd.arg("--pdeathsig=TERM");
    }
    cmd.arg("--").arg(exe).arg("agent");
    for (k, _) in std::env::vars() {
        if k.starts_with("PGANALYTICS_AGENT_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Registers (first time only) and starts the demo's agent.
pub async fn start_agent(
    backend: &Backend,
    settings: &Settings,
    url: &str,
) -> anyhow::Result<DemoAgent> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let state_dir = std::path::absolute(settings.data_dir.join("demo-agent"))?;
    let log_file = std::path::absolute(settings.data_dir.join("demo-agent.log"))?;
    let dsn = match (&backend.cluster, &settings.database_url) {
        (Some(cluster), _) => cluster.url("postgres"),
        (None, Some(url)) => url.expose_secret().to_owned(),
        (None, None) => anyhow::bail!("no database to monitor"),
    };
    if backend.cluster.is_some() {
        // Query statistics for the demo; the private cluster preloads the module.
        let _ = pganalytics_adapters::postgres::ensure_pg_stat_statements(&dsn).await;
    }
    let collector_name = "demo".to_owned();
    if !state_dir.join("identity/collector.json").exists() {
        let token = backend
            .create_registration_token()
            .execute(
                &pganalytics_domain::audit::AuditContext::cli(Some("demo".into())),
                1,
                time::Duration::minutes(10),
            )
            .await?;
        let ca = settings.data_dir.join("ca.pem");
        let mut cmd = agent_command(&exe, false);
        cmd.args(["register", "--server", url, "--ca-file"])
            .arg(&ca)
            .args(["--name", &collector_name, "--state-dir"])
            .arg(&state_dir)
            .env(
                "PGANALYTICS_AGENT_REGISTRATION_TOKEN",
                token.secret.expose(),
            );
        let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
        anyhow::ensure!(
            out.status.success(),
            "the demo agent could not register: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let log =
        File::create(&log_file).with_context(|| format!("creating {}", log_file.display()))?;
    let child = agent_command(&exe, true)
        .args(["run", "--state-dir"])
        .arg(&state_dir)
        .env("PGANALYTICS_AGENT_DSN", &dsn)
        .env("PGANALYTICS_AGENT_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting the demo agent")?;
    Ok(DemoAgent {
        state_dir,
        log_file,
        collector_name,
        child,
    })
}
