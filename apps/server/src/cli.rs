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
    if demo {
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
        let url = format!("https://localhost:{}", running.addr.port());
        let ca = std::fs::canonicalize(settings.data_dir.join("ca.pem"))?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "\npgAnalytics server is running at {url}\n\
             CA certificate:      {ca}\n\
             registration token:  {reg}   (10 agents, 24 h)\n\
             API token:           {api}   (7 days)\n\n\
             Try it:\n  curl --cacert {ca} {url}/api/v1/health\n  \
             curl --cacert {ca} -H 'Authorization: Bearer {api}' {url}/api/v1/servers\n\n\
             Ctrl-C stops the server (and its private PostgreSQL).\n",
            ca = ca.display(),
            reg = reg.secret.expose(),
            api = api.secret.expose(),
        )?;
    }
    running.server.await?;
    Ok(())
}
