//! Command-line interface. Subcommands that print a secret print only the bare secret on
//! stdout (so scripts can capture it) and everything else on stderr. They work whether or
//! not a server is running on the same data directory: with the private cluster, they
//! attach to the running one or start it for the duration of the command.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use slog::Logger;
use std::io::Write;
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

use crate::app::{self, Backend};
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "pganalytics-server",
    version,
    about = "pgAnalytics server: registers agents, ingests their metrics, serves the API"
)]
pub struct Cli {
    /// TOML configuration file (settings also come from PGANALYTICS_* variables).
    #[arg(long, global = true, env = "PGANALYTICS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage registration tokens (what an agent needs to enrol).
    RegistrationToken {
        #[command(subcommand)]
        action: RegistrationTokenAction,
    },
    /// Manage API tokens (for scripts and Grafana).
    ApiToken {
        #[command(subcommand)]
        action: ApiTokenAction,
    },
    /// Serve, and print a registration token, an API token and how to use them.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenAction {
    /// Create a token; prints it once on stdout.
    Create {
        /// How many agents may enrol with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Lifetime, e.g. 30m, 1h, 7d (at most 30d).
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenAction {
    /// Create a token; prints it once on stdout.
    Create {
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. 90d; default: no expiry.
        #[arg(long)]
        ttl: Option<String>,
    },
}

fn duration(v: &str) -> anyhow::Result<time::Duration> {
    crate::parse_duration(v).with_context(|| format!("{v:?} is not a duration like 30m, 1h or 7d"))
}

pub async fn run(cli: Cli, settings: Settings, log: Logger) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings, log, false).await,
        Command::Demo => serve(&settings, log, true).await,
        Command::Migrate => {
            Backend::open(&settings, &log).await?;
            eprintln!("migrations are up to date");
            Ok(())
        }
        Command::RegistrationToken {
            action: RegistrationTokenAction::Create { uses, ttl },
        } => {
            let backend = Backend::open(&settings, &log).await?;
            let created = backend
                .create_registration_token()
                .execute(uses, duration(&ttl)?)
                .await?;
            println!("{}", created.secret.expose());
            eprintln!(
                "registration token for {} agent(s), valid until {}",
                created.uses,
                created.expires_at.format(&Rfc3339)?
            );
            Ok(())
        }
        Command::ApiToken {
            action: ApiTokenAction::Create { name, ttl },
        } => {
            let backend = Backend::open(&settings, &log).await?;
            let ttl = ttl.as_deref().map(duration).transpose()?;
            let created = backend.create_api_token().execute(&name, ttl).await?;
            println!("{}", created.secret.expose());
            eprintln!(
                "API token {:?} ({}) created; it is shown only this once",
                created.token.name, created.token.prefix
            );
            Ok(())
        }
    }
}

async fn serve(settings: &Settings, log: Logger, demo: bool) -> anyhow::Result<()> {
    let running = app::start(settings, log).await?;
    if !demo {
        running.server.await?;
        return Ok(());
    }
    let url = format!("https://localhost:{}", running.addr.port());
    let reg = running
        .backend
        .create_registration_token()
        .execute(10, time::Duration::days(1))
        .await?;
    let api = running
        .backend
        .create_api_token()
        .execute("demo", Some(time::Duration::days(7)))
        .await?;
    // The server must be serving while the demo's agent registers.
    let server = actix_web::rt::spawn(running.server);
    let agent = crate::demo::start_agent(&running.backend, settings, &url).await;
    let ca = std::fs::canonicalize(settings.data_dir.join("ca.pem"))?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "\npgAnalytics server is running at {url}\n\
         CA certificate:      {ca}\n\
         registration token:  {reg}   (10 agents, 24 h)\n\
         API token:           {api}   (7 days)\n",
        ca = ca.display(),
        reg = reg.secret.expose(),
        api = api.secret.expose(),
    )?;
    match &agent {
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
    drop(err);
    server.await??;
    drop(agent);
    Ok(())
}
