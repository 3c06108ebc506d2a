//! `pganalytics-server demo`: the server on its private cluster, plus an agent registered
//! against it that monitors that same cluster and this host, so a newcomer sees live data
//! within a minute. The agent is the real one, run as a child process of this executable
//! (`pganalytics-server agent …` is the agent's command line), with its state and log in the
//! data directory, and it dies with the demo (parent-death signal, as the cluster does).

use anyhow::Context as _;
use pganalytics_adapters::backend::PostgresBackend;
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditContext;
use pganalytics_ports::usecases::ServerUseCases;
use secrecy::ExposeSecret;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
    uc: &ServerUseCases,
    backend: &PostgresBackend,
    settings: &Settings,
    url: &str,
) -> anyhow::Result<DemoAgent> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let state_dir = std::path::absolute(settings.data_dir.join("demo-agent"))?;
    let log_file = std::path::absolute(settings.data_dir.join("demo-agent.log"))?;
    let dsn = backend.monitoring_dsn().expose_secret().to_owned();
    if backend.has_private_cluster() {
        // Query statistics for the demo; the private cluster preloads the module.
        let _ = pganalytics_adapters::postgres::ensure_pg_stat_statements(&dsn).await;
    }
    let collector_name = "demo".to_owned();
    if !state_dir.join("identity/collector.json").exists() {
        let token = uc
            .registration_tokens
            .execute(
                &AuditContext::cli(Some("demo".into())),
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

/// Prints the server's URL, a registration token, a read-only API token and what to try
/// with them.
pub async fn print_welcome(
    uc: &ServerUseCases,
    settings: &Settings,
    url: &str,
    agent: Result<&DemoAgent, &anyhow::Error>,
) -> anyhow::Result<()> {
    let who = AuditContext::cli(std::env::var("USER").ok());
    let reg = uc
        .registration_tokens
        .execute(&who, 10, time::Duration::days(1))
        .await?;
    let api = uc
        .api_tokens
        .execute(
            &who,
            "demo",
            Role::Viewer,
            Some(time::Duration::days(7)),
            None,
        )
        .await?;
    let ca = std::fs::canonicalize(settings.data_dir.join("ca.pem"))?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "\npgAnalytics server is running at {url}\n\
         console:             {url}/console/\n\
         \x20                    sign in as `admin` with the password printed when this data directory was\n\
         \x20                    created (lost it: `pganalytics-server user reset admin`); trust {ca} in the\n\
         \x20                    browser, or accept its warning once\n\
         CA certificate:      {ca}\n\
         registration token:  {reg}   (10 agents, 24 h)\n\
         API token:           {api}   (read-only, 7 days)\n",
        ca = ca.display(),
        reg = reg.secret.expose(),
        api = api.secret.expose(),
    )?;
    match agent {
        Ok(agent) => writeln!(
            err,
            "An agent (collector \"{name}\") monitors this server's PostgreSQL and this host;\n\
             its state is in {state}, its log in {log}.\n\
             The first batch arrives within seconds; the dashboards' data within a minute.\n\n\
             Try it:\n  curl --cacert {ca} {url}/api/v1/health\n  \
             curl --cacert {ca} -H 'Authorization: Bearer {api}' {url}/api/v1/servers\n  \
             curl --cacert {ca} -H 'Authorization: Bearer {api}' \\\n    \
             '{url}/api/v1/servers/1/metrics?family=pg_database&columns=xact_commit,size_bytes&step=30s'\n\n\
             To watch another database, run an agent on its host (docs/agent.md):\n  \
             pganalytics-agent register --server {url} --ca-file {ca}   # with PGANALYTICS_AGENT_REGISTRATION_TOKEN\n  \
             PGANALYTICS_AGENT_DSN='host=… user=… dbname=postgres' pganalytics-agent run\n",
            name = agent.collector_name,
            state = agent.state_dir.display(),
            log = agent.log_file.display(),
            ca = ca.display(),
            api = api.secret.expose(),
        )?,
        Err(e) => writeln!(err, "The demo's agent did not start: {e:#}\n")?,
    }
    writeln!(
        err,
        "Ctrl-C stops the server, its agent and its private PostgreSQL.\n"
    )?;
    Ok(())
}
