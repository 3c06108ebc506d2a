//! The agent's configuration: defaults, then a TOML file, then `PGANALYTICS_AGENT_*`
//! variables (`__` separates nested keys: `PGANALYTICS_AGENT_INTERVALS__HOST=5`). Every key
//! and default is documented in docs/agent.md.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use pganalytics_domain::config::Intervals;
use pganalytics_domain::logs::LogFormat;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The instance name the rows are filed under on the server.
    pub name: String,
    /// A libpq connection string, URI or service name; empty: libpq's environment
    /// (PGHOST, PGPORT, PGUSER, PGSERVICE, …).
    #[serde(serialize_with = "hidden")]
    pub dsn: SecretString,
    /// The server log to tail; default: found from the server's settings when it runs on
    /// this host with the logging collector on.
    #[serde(default)]
    pub log: Option<TargetLog>,
    /// Roll partitions up into their root for this target; default: `catalog.rollup_partitions`.
    #[serde(default)]
    pub rollup_partitions: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetLog {
    /// A log file, or the log directory (its newest file is followed).
    pub path: PathBuf,
    #[serde(default = "stderr")]
    pub format: LogFormat,
    /// The server's `log_line_prefix` (stderr format); default: asked from the server.
    pub line_prefix: Option<String>,
    /// The server's message catalog (`…/de/LC_MESSAGES/postgres-15.mo`) when it logs in
    /// another language; default: found from its `lc_messages` and release.
    #[serde(default)]
    pub catalog: Option<PathBuf>,
}

/// What is taken out of log messages before they leave the host: `true` filters a class.
/// Every class that can carry user data is filtered by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogRedaction {
    pub credential: bool,
    pub parsing_error: bool,
    pub statement_text: bool,
    pub statement_parameter: bool,
    pub table_data: bool,
    pub ops: bool,
    pub unidentified: bool,
}

impl Default for LogRedaction {
    fn default() -> Self {
        use pganalytics_domain::logs::RedactClass as C;
        Self {
            credential: C::Credential.filtered_by_default(),
            parsing_error: C::ParsingError.filtered_by_default(),
            statement_text: C::StatementText.filtered_by_default(),
            statement_parameter: C::StatementParameter.filtered_by_default(),
            table_data: C::TableData.filtered_by_default(),
            ops: C::Ops.filtered_by_default(),
            unidentified: C::Unidentified.filtered_by_default(),
        }
    }
}

impl LogRedaction {
    pub fn to_domain(&self) -> pganalytics_domain::logs::Redaction {
        use pganalytics_domain::logs::RedactClass as C;
        let mut r = pganalytics_domain::logs::Redaction::all();
        for (class, on) in [
            (C::Credential, self.credential),
            (C::ParsingError, self.parsing_error),
            (C::StatementText, self.statement_text),
            (C::StatementParameter, self.statement_parameter),
            (C::TableData, self.table_data),
            (C::Ops, self.ops),
            (C::Unidentified, self.unidentified),
        ] {
            r.set(class, on);
        }
        r
    }
}

fn stderr() -> LogFormat {
    LogFormat::Stderr
}

fn hidden<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Statements {
    pub top_n: usize,
    pub send_texts: bool,
}

impl Default for Statements {
    fn default() -> Self {
        Self {
            top_n: 100,
            send_texts: true,
        }
    }
}

/// How the table and index collectors summarise large catalogs (docs/agent.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Catalog {
    /// Trees sent in full detail every cycle, per database: half the largest, half the
    /// most active.
    pub top_n: u32,
    /// Further trees sent in detail per cycle, in turn, so every one is seen.
    pub page_size: u32,
    /// Roll partitions and inheritance children (TimescaleDB chunks) up into their root.
    pub rollup_partitions: bool,
}

impl Default for Catalog {
    fn default() -> Self {
        let d = pganalytics_adapters::pgstats::CatalogOptions::default();
        Self {
            top_n: d.top_n,
            page_size: d.page_size,
            rollup_partitions: d.rollup_partitions,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The server's base URL; default: the one the agent registered with.
    pub server_url: Option<String>,
    /// Identity (key, certificate, token) and state.
    pub state_dir: PathBuf,
    /// The spool; default: `<state_dir>/spool`.
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: u64,
    pub targets: Vec<Target>,
    /// A single target's DSN (`PGANALYTICS_AGENT_DSN`), named `main`, when `targets` is empty.
    #[serde(serialize_with = "hidden_opt")]
    pub dsn: Option<SecretString>,
    /// The instance the host's rows are filed under; default: the first target's name.
    pub host_instance: Option<String>,
    /// Collection intervals in seconds, until the server's configuration says otherwise.
    pub intervals: Intervals,
    pub statement_timeout_ms: u64,
    pub lock_timeout_ms: u64,
    pub statements: Statements,
    pub catalog: Catalog,
    /// Serve the agent's own metrics as Prometheus text here (loopback only).
    pub prometheus_listen: Option<SocketAddr>,
    /// `json` or `text`; default: text on a terminal, JSON otherwise.
    pub log_format: Option<String>,
    /// Tail the targets' server logs (`pg_log_event`).
    pub tail_logs: bool,
    /// The first time a log is tailed, read it from its beginning rather than its end.
    pub logs_from_beginning: bool,
    /// What is redacted from log events before they are sent.
    pub log_redaction: LogRedaction,
    /// Where to look for PostgreSQL's message catalogs besides the usual places.
    pub locale_dirs: Vec<PathBuf>,
    /// The window of the per-statement latency quantiles from the log's duration lines.
    pub latency_window_seconds: u64,
    /// PgBouncer logs to tail, each sent as an instance of its own.
    pub pgbouncers: Vec<PgbouncerLog>,
}

/// A PgBouncer whose log the agent tails (`pooler` events).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgbouncerLog {
    /// The instance name its events are filed under on the server.
    pub name: String,
    /// Its `logfile`.
    pub log: PathBuf,
}

fn hidden_opt<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some(""),
        None => s.serialize_none(),
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            server_url: None,
            state_dir: PathBuf::from("pganalytics-agent-state"),
            spool_dir: None,
            spool_max_bytes: 256 * 1024 * 1024,
            targets: Vec::new(),
            dsn: None,
            host_instance: None,
            intervals: Intervals::default(),
            statement_timeout_ms: 10_000,
            lock_timeout_ms: 1_000,
            statements: Statements::default(),
            catalog: Catalog::default(),
            prometheus_listen: None,
            log_format: None,
            tail_logs: true,
            logs_from_beginning: false,
            log_redaction: LogRedaction::default(),
            locale_dirs: Vec::new(),
            latency_window_seconds: 60,
            pgbouncers: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl AgentConfig {
    /// Defaults, then `file` (which must exist when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(AgentConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "the config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(
            Env::prefixed("PGANALYTICS_AGENT_")
                .ignore(&["registration_token", "config"])
                .split("__"),
        );
        let mut config: AgentConfig = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        if config.targets.is_empty()
            && let Some(dsn) = config.dsn.take()
        {
            config.targets.push(Target {
                name: "main".into(),
                dsn,
                log: None,
                rollup_partitions: None,
            });
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.intervals
            .validate()
            .map_err(|e| ConfigError(e.to_string()))?;
        let mut names = std::collections::HashSet::new();
        for t in &self.targets {
            pganalytics_domain::collector::InstanceName::parse(&t.name)
                .map_err(|e| ConfigError(format!("target name {:?}: {e}", t.name)))?;
            if !names.insert(&t.name) {
                return Err(ConfigError(format!("two targets are named {:?}", t.name)));
            }
        }
        if let Some(addr) = self.prometheus_listen
            && !addr.ip().is_loopback()
        {
            return Err(ConfigError(format!(
                "prometheus_listen {addr} is not a loopback address: the agent's metrics are \
                 served on this host only"
            )));
        }
        if self.spool_max_bytes < 1024 * 1024 {
            return Err(ConfigError("spool_max_bytes must be at least 1 MiB".into()));
        }
        Ok(())
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.spool_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("spool"))
    }

    pub fn host_instance(&self) -> String {
        self.host_instance
            .clone()
            .or_else(|| self.targets.first().map(|t| t.name.clone()))
            .unwrap_or_else(|| "host".into())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_file_and_environment_merge_in_that_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "agent.toml",
                r#"
                state_dir = "/var/lib/pganalytics-agent"
                [intervals]
                host = 30
                [[targets]]
                name = "main"
                dsn = "host=/run/postgresql user=monitor"
                [[targets]]
                name = "reporting"
                dsn = "service=reporting"
                "#,
            )?;
            jail.set_env("PGANALYTICS_AGENT_INTERVALS__HOST", "5");
            jail.set_env("PGANALYTICS_AGENT_SERVER_URL", "https://monitor:8443");
            let c = AgentConfig::load(Some(Path::new("agent.toml"))).unwrap();
            assert_eq!(c.intervals.host, 5);
            assert_eq!(c.intervals.activity, 15);
            assert_eq!(c.targets.len(), 2);
            assert_eq!(c.server_url.as_deref(), Some("https://monitor:8443"));
            assert_eq!(c.spool_dir(), Path::new("/var/lib/pganalytics-agent/spool"));
            assert_eq!(c.host_instance(), "main");
            Ok(())
        });
    }

    #[test]
    fn a_single_dsn_from_the_environment_is_the_main_target_and_never_printed() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "PGANALYTICS_AGENT_DSN",
                "postgresql://monitor:s3cret@db/postgres",
            );
            let c = AgentConfig::load(None).unwrap();
            assert_eq!(c.targets[0].name, "main");
            assert!(!format!("{c:?}").contains("s3cret"));
            Ok(())
        });
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        Jail::expect_with(|jail| {
            jail.create_file("a.toml", "[intervals]\nhost = 0\n")?;
            let e = AgentConfig::load(Some(Path::new("a.toml"))).unwrap_err();
            assert!(e.to_string().contains("host"), "{e}");
            jail.create_file("b.toml", "prometheus_listen = \"0.0.0.0:9187\"\n")?;
            let e = AgentConfig::load(Some(Path::new("b.toml"))).unwrap_err();
            assert!(e.to_string().contains("loopback"), "{e}");
            jail.create_file("c.toml", "sppol_dir = \"/x\"\n")?;
            assert!(AgentConfig::load(Some(Path::new("c.toml"))).is_err());
            assert!(AgentConfig::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    /// The package's configuration file (apps/agent/debian), every setting in it commented
    /// out as `#key = value`.
    const EXAMPLE: &str = include_str!("../debian/pganalytics-agent.toml");

    /// `table.key` paths of every key, through tables and arrays of tables.
    fn paths(prefix: &str, t: &toml::Table, out: &mut std::collections::BTreeSet<String>) {
        for (k, v) in t {
            let path = format!("{prefix}{k}");
            match v {
                toml::Value::Table(inner) => paths(&format!("{path}."), inner, out),
                toml::Value::Array(items) => {
                    for item in items {
                        if let toml::Value::Table(inner) = item {
                            paths(&format!("{path}."), inner, out);
                        }
                    }
                }
                _ => {}
            }
            out.insert(path);
        }
    }

    #[test]
    fn the_packaged_configuration_lists_every_setting_and_each_example_is_valid() {
        let mut listed = std::collections::BTreeSet::new();
        paths(
            "",
            &toml::from_str(&pganalytics_adapters::testing::uncommented(EXAMPLE)).unwrap(),
            &mut listed,
        );
        let mut full = AgentConfig {
            dsn: Some(SecretString::from("x")),
            ..AgentConfig::default()
        };
        full.targets.push(Target {
            name: "main".into(),
            dsn: SecretString::from("x"),
            log: Some(TargetLog {
                path: "/var/log/postgresql".into(),
                format: LogFormat::Stderr,
                line_prefix: Some(String::new()),
                catalog: Some("/x.mo".into()),
            }),
            rollup_partitions: Some(true),
        });
        full.pgbouncers.push(PgbouncerLog {
            name: "pool".into(),
            log: "/x.log".into(),
        });
        let mut every = std::collections::BTreeSet::new();
        paths("", &toml::Table::try_from(&full).unwrap(), &mut every);
        for key in [
            "server_url",
            "spool_dir",
            "host_instance",
            "prometheus_listen",
            "log_format",
        ] {
            every.insert(key.to_string());
        }
        let missing: Vec<_> = every.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "not in the packaged configuration: {missing:?}"
        );

        Jail::expect_with(|jail| {
            jail.create_file(
                "all.toml",
                &pganalytics_adapters::testing::uncommented(EXAMPLE),
            )?;
            let c = AgentConfig::load(Some(Path::new("all.toml"))).unwrap();
            assert_eq!(c.pgbouncers.len(), 1);
            jail.create_file("shipped.toml", EXAMPLE)?;
            let c = AgentConfig::load(Some(Path::new("shipped.toml"))).unwrap();
            assert_eq!(c.state_dir, Path::new("/var/lib/pganalytics-agent"));
            assert_eq!(c.targets.len(), 1);
            assert_eq!(c.intervals.tables, Intervals::default().tables);
            Ok(())
        });
    }
}
