//! Command-line interface. Subcommands that print a secret print only the bare secret on
//! stdout (so scripts can capture it) and everything else on stderr. They work whether or
//! not a server is running on the same data directory: with the private cluster, they
//! attach to the running one or start it for the duration of the command.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use pganalytics_adapters::backend::PostgresBackend;
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::users::UserUpdate;
use pganalytics_ports::env::{Clock, IdSource};
use pganalytics_ports::usecases::{Limits, NewPassword, ServerUseCases, UserAdmin};
use secrecy::{ExposeSecret as _, SecretString};
use slog::{Logger, info};
use std::path::PathBuf;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

use crate::app;
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
    /// Ask the running server's /health over HTTPS (trusting its CA) and exit 0 when it
    /// answers 200: a container's or a load balancer's health check.
    Health,
    /// Print the OpenAPI 3.1 document of the API (the one served at /api/v1/openapi.json).
    Openapi,
    /// Check and test alert rule files (no server or database needed).
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Validate rule files: every problem with its line; exit status 1 if any.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run rule test files (series and expected alerts; docs/alerts.md); exit status 1 if
    /// a test fails.
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
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
    crate::settings::parse_duration(v)
        .with_context(|| format!("{v:?} is not a duration like 30m, 1h or 7d"))
}

/// What the process was wired with: its one clock, its one id source, its logger.
#[derive(Clone)]
pub struct Process {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub log: Logger,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").finish_non_exhaustive()
    }
}

/// Opens the PostgreSQL backend of `settings` (starting the private cluster when there is
/// no database URL, migrating), and logs what that did.
pub async fn open_backend(settings: &Settings, p: &Process) -> anyhow::Result<PostgresBackend> {
    let backend =
        PostgresBackend::open(&settings.storage(), p.clock.clone(), p.ids.clone()).await?;
    let report = backend.report();
    if let Some((socket_dir, started_here)) = &report.private_cluster {
        info!(p.log, "private PostgreSQL cluster is up"; "socket_dir" => %socket_dir.display(),
              "started_here" => started_here);
    }
    if report.migrations_applied > 0 {
        info!(p.log, "database migrations applied"; "count" => report.migrations_applied);
    }
    Ok(backend)
}

pub async fn run(cli: Cli, settings: Settings, p: Process) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        println!("{}", crate::openapi::json());
        return Ok(());
    }
    if let Command::Health = command {
        return health(&settings).await;
    }
    if let Command::Rules { action } = &command {
        let (failed, what) = match action {
            RulesAction::Check { files } => (crate::rules_cli::check(files), "problems"),
            RulesAction::Test { files } => (crate::rules_cli::test(files).await, "failed tests"),
        };
        return if failed == 0 {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{what}: {failed}"))
        };
    }
    let backend = open_backend(&settings, &p).await?;
    let uc = ServerUseCases::new(backend.backend(), Limits::default());
    match command {
        Command::Serve => serve(&backend, &settings, p.log, None).await,
        Command::Demo => serve(&backend, &settings, p.log, Some(&uc)).await,
        Command::Openapi | Command::Rules { .. } | Command::Health => Ok(()),
        Command::Migrate => {
            eprintln!("migrations are up to date");
            Ok(())
        }
        Command::RegistrationToken {
            action: RegistrationTokenAction::Create { uses, ttl },
        } => registration_token(&uc, uses, &ttl).await,
        Command::ApiToken {
            action: ApiTokenAction::Create { name, ttl, role: r },
        } => api_token(&uc, &name, ttl.as_deref(), &r).await,
        Command::User { action } => user(action, &uc.users).await,
        Command::Secrets {
            action: SecretsAction::Rotate,
        } => {
            let report = uc.secrets.rotate().await?;
            eprintln!(
                "secrets re-encrypted under key {}: {} re-encrypted, {} already current",
                backend.backend().cipher.current_key_id(),
                report.resealed,
                report.already_current
            );
            Ok(())
        }
    }
}

/// Creates a registration token and prints it (alone, on stdout).
async fn registration_token(uc: &ServerUseCases, uses: u32, ttl: &str) -> anyhow::Result<()> {
    let created = uc
        .registration_tokens
        .execute(&os_user(), uses, duration(ttl)?)
        .await?;
    println!("{}", created.secret.expose());
    eprintln!(
        "registration token for {} agent(s), valid until {}",
        created.uses,
        created.expires_at.format(&Rfc3339)?
    );
    Ok(())
}

/// Creates an API token and prints it (alone, on stdout).
async fn api_token(
    uc: &ServerUseCases,
    name: &str,
    ttl: Option<&str>,
    role_name: &str,
) -> anyhow::Result<()> {
    let ttl = ttl.map(duration).transpose()?;
    let created = uc
        .api_tokens
        .execute(&os_user(), name, role(role_name)?, ttl, None)
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

async fn user(action: UserAction, users: &UserAdmin) -> anyhow::Result<()> {
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

/// `GET /health` of the server these settings describe, on a loopback address its
/// certificate names (`server_names` must hold `localhost` or `127.0.0.1`, as by default).
async fn health(settings: &Settings) -> anyhow::Result<()> {
    let port = settings.listen.port();
    let host = ["127.0.0.1", "localhost", "::1"]
        .into_iter()
        .find(|h| settings.server_names.iter().any(|n| n == h))
        .context("server_names holds no loopback name (127.0.0.1, localhost or ::1) to ask")?;
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let ca_file = settings.data_dir.join("ca.pem");
    let ca = std::fs::read_to_string(&ca_file)
        .with_context(|| format!("reading the server's CA certificate {}", ca_file.display()))?;
    let url = format!("https://{host}:{port}");
    tokio::task::spawn_blocking(move || pganalytics_adapters::http::server_health(&url, &ca))
        .await?
        .context("the server is not healthy")?;
    eprintln!("healthy");
    Ok(())
}

/// Serves until stopped; the demo (given its use cases) also starts an agent on this server's
/// own PostgreSQL and prints how to use it.
async fn serve(
    backend: &PostgresBackend,
    settings: &Settings,
    log: Logger,
    demo: Option<&ServerUseCases>,
) -> anyhow::Result<()> {
    let running = app::start(backend.backend(), settings, log.clone()).await?;
    info!(log, "the CA certificate agents and clients trust"; "ca_file" => %settings.data_dir.join("ca.pem").display());
    // Type=notify units: the server is listening and its database migrated.
    if let Err(e) = pganalytics_adapters::systemd::ready() {
        slog::warn!(log, "could not notify systemd"; "error" => %e);
    }
    let Some(uc) = demo else {
        running.server.await?;
        return Ok(());
    };
    let url = format!("https://localhost:{}", running.addr.port());
    // The server must be serving while the demo's agent registers.
    let server = actix_web::rt::spawn(running.server);
    let agent = crate::demo::start_agent(uc, backend, settings, &url).await;
    crate::demo::print_welcome(uc, settings, &url, agent.as_ref()).await?;
    server.await??;
    drop(agent);
    Ok(())
}
