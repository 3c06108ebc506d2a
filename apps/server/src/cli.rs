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

use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::users::UserUpdate;
use pganalytics_ports::usecases::NewPassword;
use secrecy::{ExposeSecret as _, SecretString};

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
    /// Manage people's accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Secrets stored encrypted in the database.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Serve, and print a registration token, an API token and how to use them.
    Demo,
    /// Print the OpenAPI 3.1 document of the API (the one served at /api/v1/openapi.json).
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user. The password is read from stdin with --password-stdin, else one is
    /// generated and printed once on stdout.
    Add {
        name: String,
        /// admin, user or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (generated and printed once, or from stdin) and end their
    /// sessions; re-enables a disabled account. The way back in for a locked-out admin.
    Reset {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Re-encrypt every stored secret under the first key of the key ring (run after
    /// putting a new key first; then the old key can be removed).
    Rotate,
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
        /// admin, user or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
}

fn os_user() -> AuditContext {
    AuditContext::cli(std::env::var("USER").ok())
}

fn role(v: &str) -> anyhow::Result<Role> {
    Ok(Role::parse(v)?)
}

fn password_from(stdin: bool) -> anyhow::Result<NewPassword> {
    if !stdin {
        return Ok(NewPassword::Generate);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(NewPassword::Given(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    )))
}

fn duration(v: &str) -> anyhow::Result<time::Duration> {
    crate::parse_duration(v).with_context(|| format!("{v:?} is not a duration like 30m, 1h or 7d"))
}

pub async fn run(cli: Cli, settings: Settings, log: Logger) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings, log, false).await,
        Command::Demo => serve(&settings, log, true).await,
        Command::Openapi => {
            println!("{}", crate::openapi::json());
            Ok(())
        }
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
                .execute(&os_user(), uses, duration(&ttl)?)
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
            action: ApiTokenAction::Create { name, ttl, role: r },
        } => {
            let backend = Backend::open(&settings, &log).await?;
            let ttl = ttl.as_deref().map(duration).transpose()?;
            let created = backend
                .create_api_token()
                .execute(&os_user(), &name, role(&r)?, ttl, None)
                .await?;
            println!("{}", created.secret.expose());
            eprintln!(
                "API token {:?} ({}, role {}) created; it is shown only this once",
                created.token.name,
                created.token.prefix,
                created.token.role.as_str()
            );
            Ok(())
        }
        Command::User { action } => user(action, &settings, &log).await,
        Command::Secrets {
            action: SecretsAction::Rotate,
        } => {
            let backend = Backend::open(&settings, &log).await?;
            let report = backend.secrets().rotate().await?;
            eprintln!(
                "secrets re-encrypted under key {}: {} re-encrypted, {} already current",
                backend.keyring.current_id(),
                report.resealed,
                report.already_current
            );
            Ok(())
        }
    }
}

async fn user(action: UserAction, settings: &Settings, log: &Logger) -> anyhow::Result<()> {
    let backend = Backend::open(settings, log).await?;
    let users = backend.user_admin();
    let ctx = os_user();
    match action {
        UserAction::Add {
            name,
            role: r,
            password_stdin,
        } => {
            let (user, generated) = users
                .create(&ctx, &name, role(&r)?, password_from(password_stdin)?)
                .await?;
            if let Some(p) = generated {
                println!("{}", p.expose_secret());
            }
            eprintln!("user {} ({}) created", user.username, user.role.as_str());
        }
        UserAction::Reset {
            name,
            password_stdin,
        } => {
            let user = users.find(&name).await?;
            let generated = users
                .reset_password(&ctx, user.id, password_from(password_stdin)?)
                .await?;
            if !user.is_active() {
                let enable = UserUpdate {
                    role: None,
                    disabled: Some(false),
                };
                users.update(&ctx, user.id, &enable).await?;
            }
            if let Some(p) = generated {
                println!("{}", p.expose_secret());
            }
            eprintln!(
                "password of {} reset; their sessions have ended",
                user.username
            );
        }
        UserAction::List => {
            for u in users.list().await? {
                println!(
                    "{}\t{}\t{}",
                    u.username,
                    u.role.as_str(),
                    if u.is_active() { "active" } else { "disabled" }
                );
            }
        }
    }
    Ok(())
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
        .execute(&os_user(), 10, time::Duration::days(1))
        .await?;
    let api = running
        .backend
        .create_api_token()
        .execute(
            &os_user(),
            "demo",
            Role::Viewer,
            Some(time::Duration::days(7)),
            None,
        )
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
         API token:           {api}   (read-only, 7 days)\n",
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
