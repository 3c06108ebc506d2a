//! Server settings: `pganalytics-server.toml` (path from `--config`) overridden by
//! `PGANALYTICS_*` environment variables. Every setting has a working default, so the
//! server runs with no configuration at all on its own private PostgreSQL cluster.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use pganalytics_adapters::backend::StorageSettings;
use pganalytics_domain::rollup::Retention;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where HTTPS is served. Env: `PGANALYTICS_LISTEN`.
    pub listen: SocketAddr,
    /// CA, keys and the private cluster live here. Env: `PGANALYTICS_DATA_DIR`.
    pub data_dir: PathBuf,
    /// An external PostgreSQL database; without it the server runs a private cluster under
    /// `data_dir`. Env: `PGANALYTICS_DATABASE_URL`. Never logged.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Host names and IP addresses the server certificate is issued for. Env:
    /// `PGANALYTICS_SERVER_NAMES='[db.example.com, 10.0.0.5]'`.
    pub server_names: Vec<String>,
    /// Directory with `initdb` and `postgres` for the private cluster. Env: `PGANALYTICS_PG_BINDIR`.
    pub pg_bindir: Option<PathBuf>,
    /// Database connections in the pool. Env: `PGANALYTICS_POOL_SIZE`.
    pub pool_size: usize,
    /// HTTP worker threads (0: one per core). Env: `PGANALYTICS_WORKERS`.
    pub workers: usize,
    /// Group-commit transactions storing pushes at once, each on its own connection and
    /// thread. Env: `PGANALYTICS_INGEST_COMMITTERS`.
    pub ingest_committers: usize,
    /// How long a group of pushes stays open for more after its first, in milliseconds
    /// (0: only those already waiting). Env: `PGANALYTICS_INGEST_GROUP_WAIT_MS`.
    pub ingest_group_wait_ms: u64,
    /// Largest compressed request body accepted on the push endpoint.
    pub max_body_bytes: usize,
    /// Largest decompressed batch accepted.
    pub max_batch_bytes: usize,
    /// `json` or `text`; default: text on a terminal, JSON otherwise. Env: `PGANALYTICS_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// How often maintenance runs (rollups, partitions ahead, retention), in seconds.
    pub maintenance_interval_seconds: u64,
    /// Retention per family, in days per tier: `[retention.pg_statement]` with `raw_days`,
    /// `hourly_days`, `daily_days` (all three). Choices made through the API win.
    pub retention: BTreeMap<String, Retention>,
    /// With Citus: partitions whose rows are all older than this many days move to its
    /// columnar access method (compressed; at least 31, past the oldest rows ingest
    /// accepts, since columnar partitions take no deletes). Default: off. Env:
    /// `PGANALYTICS_COLUMNAR_AFTER_DAYS`.
    pub columnar_after_days: Option<u32>,
    /// Bcrypt cost of new password hashes (each +1 doubles the work; 12 ≈ 0.25 s).
    /// Below 12 is refused unless `allow_weak_bcrypt` is set (tests). Env: `PGANALYTICS_BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// Permits a bcrypt cost below 12: for test suites only.
    pub allow_weak_bcrypt: bool,
    /// The first administrator's password on a server with no user yet; without it one is
    /// generated and printed once. Env: `PGANALYTICS_ADMIN_PASSWORD`. Never logged.
    #[serde(skip_serializing)]
    pub admin_password: Option<SecretString>,
    /// The key ring for secrets at rest (`<id>=<64 hex>` lines, the first encrypts). Env:
    /// `PGANALYTICS_SECRETS_KEYS`; without it `secrets_key_file` is used. Never logged.
    #[serde(skip_serializing)]
    pub secrets_keys: Option<SecretString>,
    /// The key ring file, created with one random key on first start. Default:
    /// `<data_dir>/secrets.keys`. Env: `PGANALYTICS_SECRETS_KEY_FILE`.
    pub secrets_key_file: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (CORS); empty (the default): none.
    /// Env: `PGANALYTICS_CORS_ALLOWED_ORIGINS='[https://grafana.example.com]'`.
    pub cors_allowed_origins: Vec<String>,
    /// Requests per second a client address, and separately a credential, may make to the
    /// people's API, sustained; and the burst allowed above that.
    pub rate_people_per_second: u32,
    pub rate_people_burst: u32,
    /// The same for the collectors' endpoints, per collector (its certificate) — a budget
    /// of its own, so people cannot starve ingest, nor a noisy agent the people.
    pub rate_ingest_per_second: u32,
    pub rate_ingest_burst: u32,
    /// Whether `GET /metrics` needs a credential (any role). Env: `PGANALYTICS_METRICS_REQUIRE_AUTH`.
    pub metrics_require_auth: bool,
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    pub max_json_depth: usize,
    /// Seconds a new connection has to send its request head (a slow-headers client is
    /// cut with 408).
    pub header_timeout_seconds: u64,
    /// Seconds a request body may go without delivering a byte; past its first this many
    /// seconds a body must also average `body_min_bytes_per_second`. Either way it is cut
    /// with `408 body_timeout`.
    pub body_timeout_seconds: u64,
    pub body_min_bytes_per_second: u64,
    /// Seconds an idle kept-alive connection stays open: above the time between an agent's
    /// pushes (15 s by default; the seeds' fleets push every 10 s), so that an agent's pushes
    /// share one TLS connection instead of paying a full mutual-TLS handshake each.
    pub keep_alive_seconds: u64,
    /// How often every alert rule is evaluated, in seconds. Env:
    /// `PGANALYTICS_ALERT_INTERVAL_SECONDS`.
    pub alert_interval_seconds: u64,
    /// How often queued notifications are sent, in seconds.
    pub notify_interval_seconds: u64,
    /// Where SQL alert rules log in (a login in `pganalytics_reader` and nothing else);
    /// default: the database's URL as `pganalytics_rule_reader`, which the private cluster
    /// trusts. Env: `PGANALYTICS_SQL_RULES_URL`. Never logged.
    #[serde(skip_serializing)]
    pub sql_rules_url: Option<SecretString>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".parse().expect("valid default address"),
            data_dir: PathBuf::from("pganalytics-data"),
            database_url: None,
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            pg_bindir: None,
            pool_size: 16,
            ingest_committers: 2,
            ingest_group_wait_ms: 2,
            workers: 0,
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_bytes: 64 * 1024 * 1024,
            log_format: None,
            maintenance_interval_seconds: 60,
            retention: BTreeMap::new(),
            columnar_after_days: None,
            bcrypt_cost: 12,
            allow_weak_bcrypt: false,
            admin_password: None,
            secrets_keys: None,
            secrets_key_file: None,
            cors_allowed_origins: Vec::new(),
            rate_people_per_second: 20,
            rate_people_burst: 200,
            rate_ingest_per_second: 20,
            rate_ingest_burst: 200,
            metrics_require_auth: true,
            max_json_depth: 32,
            header_timeout_seconds: 10,
            body_timeout_seconds: 10,
            body_min_bytes_per_second: 1024,
            keep_alive_seconds: 30,
            alert_interval_seconds: 15,
            notify_interval_seconds: 2,
            sql_rules_url: None,
        }
    }
}

const ENV_KEYS: [&str; 33] = [
    "listen",
    "data_dir",
    "database_url",
    "server_names",
    "pg_bindir",
    "pool_size",
    "workers",
    "ingest_committers",
    "ingest_group_wait_ms",
    "max_body_bytes",
    "max_batch_bytes",
    "log_format",
    "maintenance_interval_seconds",
    "bcrypt_cost",
    "allow_weak_bcrypt",
    "admin_password",
    "secrets_keys",
    "secrets_key_file",
    "cors_allowed_origins",
    "rate_people_per_second",
    "rate_people_burst",
    "rate_ingest_per_second",
    "rate_ingest_burst",
    "metrics_require_auth",
    "max_json_depth",
    "header_timeout_seconds",
    "body_timeout_seconds",
    "body_min_bytes_per_second",
    "keep_alive_seconds",
    "alert_interval_seconds",
    "notify_interval_seconds",
    "sql_rules_url",
    "columnar_after_days",
];

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(String);

/// `60`, `60s`, `5m`, `2h`, `1d`, `1h30m` → a duration (the rule files' syntax).
pub fn parse_duration(v: &str) -> Option<time::Duration> {
    pganalytics_domain::alerts::Span::parse(v).map(pganalytics_domain::alerts::Span::duration)
}

impl Settings {
    /// Where and how the PostgreSQL backend keeps the server's data.
    /// How pushes are stored together.
    pub fn group_commit(&self) -> pganalytics_ports::usecases::GroupCommitSettings {
        pganalytics_ports::usecases::GroupCommitSettings {
            committers: self.ingest_committers,
            max_wait: std::time::Duration::from_millis(self.ingest_group_wait_ms),
            ..Default::default()
        }
    }

    /// HTTP workers to run: `workers`, or one per core when it is 0.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// The `[retention.<family>]` tables, checked: known families, days in range.
    pub fn retention_settings(&self) -> Result<BTreeMap<String, Retention>, SettingsError> {
        for (family, r) in &self.retention {
            if pganalytics_domain::catalog::family(family).is_none() {
                return Err(SettingsError(format!(
                    "retention.{family}: not a metric family"
                )));
            }
            r.validate()
                .map_err(|e| SettingsError(format!("retention.{family}: {e}")))?;
        }
        Ok(self.retention.clone())
    }

    pub fn storage(&self) -> StorageSettings {
        StorageSettings {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            pg_bindir: self.pg_bindir.clone(),
            pool_size: self.pool_size,
            bcrypt_cost: self.bcrypt_cost,
            secrets_keys: self.secrets_keys.clone(),
            secrets_key_file: self.secrets_key_file.clone(),
            sql_rules_url: self.sql_rules_url.clone(),
        }
    }

    /// Defaults, then the TOML file (if given, it must exist), then `PGANALYTICS_*`.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "the config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Only the server's own keys: the agent's PGANALYTICS_AGENT_* may share the environment.
        fig = fig.merge(Env::prefixed("PGANALYTICS_").only(&ENV_KEYS));
        let settings: Settings = fig.extract().map_err(|e| SettingsError(e.to_string()))?;
        settings.retention_settings()?;
        let oldest = pganalytics_domain::catalog::max_retention_days();
        if settings.columnar_after_days.is_some_and(|d| d <= oldest) {
            return Err(SettingsError(format!(
                "columnar_after_days must be more than {oldest}: ingest accepts rows that old, and columnar partitions take no deletes"
            )));
        }
        if settings.pool_size == 0 {
            return Err(SettingsError("pool_size must be at least 1".into()));
        }
        if settings.ingest_committers == 0 || settings.ingest_committers > settings.pool_size {
            return Err(SettingsError(format!(
                "ingest_committers must be between 1 and pool_size ({})",
                settings.pool_size
            )));
        }
        if settings.ingest_group_wait_ms > 1000 {
            return Err(SettingsError(
                "ingest_group_wait_ms must be at most 1000: every push waits up to that long"
                    .into(),
            ));
        }
        if !(4..=31).contains(&settings.bcrypt_cost)
            || (settings.bcrypt_cost < 12 && !settings.allow_weak_bcrypt)
        {
            return Err(SettingsError(format!(
                "bcrypt_cost {} is out of range: 12 to 31 (below 12 only with allow_weak_bcrypt, for tests)",
                settings.bcrypt_cost
            )));
        }
        if [
            settings.rate_people_per_second,
            settings.rate_people_burst,
            settings.rate_ingest_per_second,
            settings.rate_ingest_burst,
        ]
        .contains(&0)
        {
            return Err(SettingsError("rate limits must be at least 1".into()));
        }
        if settings.header_timeout_seconds == 0
            || settings.body_timeout_seconds == 0
            || settings.body_min_bytes_per_second == 0
        {
            return Err(SettingsError(
                "header_timeout_seconds, body_timeout_seconds and body_min_bytes_per_second must be at least 1".into(),
            ));
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The package's configuration file (apps/server/debian), every setting in it commented
    /// out as `#key = value`.
    const EXAMPLE: &str = include_str!("../debian/pganalytics-server.toml");

    #[test]
    fn the_packaged_configuration_lists_every_setting_and_each_example_is_valid() {
        let all: toml::Table =
            toml::from_str(&pganalytics_adapters::testing::uncommented(EXAMPLE)).unwrap();
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        for key in defaults.keys().map(String::as_str).chain(ENV_KEYS) {
            assert!(
                all.contains_key(key),
                "{key} is not in the packaged configuration"
            );
        }
        assert!(all.contains_key("retention"));
        // Every example value is accepted (unknown keys are refused).
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("all.toml");
        std::fs::write(&file, pganalytics_adapters::testing::uncommented(EXAMPLE)).unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        assert_eq!(s.retention["pg_statement"].raw_days, 7);
        // As shipped, it sets the data directory and leaves the rest at the defaults.
        std::fs::write(&file, EXAMPLE).unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        assert_eq!(s.data_dir, Path::new("/var/lib/pganalytics"));
        assert_eq!(s.listen, Settings::default().listen);
    }
}
