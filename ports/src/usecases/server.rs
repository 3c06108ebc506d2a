//! Every use case of the server, built once from a [`Backend`]: the one place that decides
//! which port each use case gets. The HTTP shell, the CLI and the in-memory harness all
//! start from here.

use pganalytics_domain::batch::BatchLimits;
use pganalytics_domain::rollup::Retention;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Backend;
use crate::usecases::alerts::{
    AlertAdmin, ChannelAdmin, DeliverNotifications, EvaluateAlerts, RuleAdmin,
};
use crate::usecases::{
    AuditLog, AuthenticateCollector, AuthenticatePerson, Authorize, CollectorAdmin,
    CollectorPresence, CreateApiToken, CreateRegistrationToken, CurrentCertificate, FleetOverview,
    GetCollectorConfig, GroupCommitSettings, Health, IngestBatch, Login, Logout, Maintenance,
    QueryMetrics, QueryStatements, RefreshCollectorToken, RefreshSession, RegisterCollector,
    RenewCollectorCertificate, RetentionAdmin, SearchLogEvents, Secrets, ServerCatalog,
    UpdateCollectorConfig, UserAdmin,
};

/// Bounds the use cases enforce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub batch: BatchLimits,
    /// Rows a time-series query may read.
    pub query_rows: usize,
    /// Values (rows × columns) a time-series query may read.
    pub query_cells: usize,
    /// Points one series may have (range ÷ step).
    pub query_points_per_series: i64,
    /// Points one answer may have (series × steps).
    pub query_answer_points: usize,
    /// How long one alert rule's evaluation may take.
    pub alert_rule_timeout: std::time::Duration,
    /// Rows one alert rule may read.
    pub alert_rows: usize,
    /// How pushes are stored together.
    pub group_commit: GroupCommitSettings,
    /// How old what a push learns about its collector from memory may be (see
    /// [`CollectorPresence`]).
    pub presence_staleness: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            batch: BatchLimits::default(),
            query_rows: 200_000,
            query_cells: 1_000_000,
            query_points_per_series: 11_000,
            query_answer_points: 500_000,
            alert_rule_timeout: std::time::Duration::from_secs(10),
            alert_rows: 500_000,
            group_commit: GroupCommitSettings::default(),
            presence_staleness: std::time::Duration::from_secs(5),
        }
    }
}

pub struct ServerUseCases {
    pub authorize: Authorize,
    pub register: RegisterCollector,
    pub refresh_token: RefreshCollectorToken,
    pub renew: RenewCollectorCertificate,
    pub current_certificate: CurrentCertificate,
    pub ingest: IngestBatch,
    pub config: GetCollectorConfig,
    pub update_config: UpdateCollectorConfig,
    pub query: QueryMetrics,
    pub collectors: CollectorAdmin,
    pub servers: ServerCatalog,
    pub fleet: FleetOverview,
    pub login: Login,
    pub refresh: RefreshSession,
    pub logout: Logout,
    pub users: UserAdmin,
    pub api_tokens: CreateApiToken,
    pub registration_tokens: CreateRegistrationToken,
    pub audit_log: AuditLog,
    pub secrets: Secrets,
    pub maintenance: Maintenance,
    pub retention: RetentionAdmin,
    pub statements: QueryStatements,
    pub log_events: SearchLogEvents,
    pub health: Health,
    pub evaluate_alerts: EvaluateAlerts,
    pub notify: DeliverNotifications,
    pub rules: RuleAdmin,
    pub alerts: AlertAdmin,
    pub channels: ChannelAdmin,
}

impl ServerUseCases {
    pub fn new(b: &Backend, limits: Limits) -> Self {
        let presence = Arc::new(CollectorPresence::new(
            b.collectors.clone(),
            b.clock.clone(),
            limits.presence_staleness,
        ));
        let auth_collector = Arc::new(AuthenticateCollector {
            presence: presence.clone(),
            signer: b.signer.clone(),
            clock: b.clock.clone(),
        });
        Self {
            authorize: Authorize {
                people: AuthenticatePerson {
                    tokens: b.api_tokens.clone(),
                    sessions: b.sessions.clone(),
                    signer: b.signer.clone(),
                    clock: b.clock.clone(),
                },
                collectors: auth_collector.clone(),
                audit: b.audit.clone(),
                clock: b.clock.clone(),
            },
            register: RegisterCollector {
                tokens: b.registration_tokens.clone(),
                collectors: b.collectors.clone(),
                ca: b.ca.clone(),
                signer: b.signer.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            refresh_token: RefreshCollectorToken {
                auth: auth_collector.clone(),
                signer: b.signer.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            renew: RenewCollectorCertificate {
                auth: auth_collector,
                collectors: b.collectors.clone(),
                ca: b.ca.clone(),
                clock: b.clock.clone(),
            },
            current_certificate: CurrentCertificate {
                collectors: b.collectors.clone(),
            },
            ingest: IngestBatch::new(
                b.metrics.clone(),
                presence.clone(),
                b.clock.clone(),
                limits.batch,
                limits.group_commit,
            ),
            config: GetCollectorConfig {
                collectors: b.collectors.clone(),
            },
            update_config: UpdateCollectorConfig {
                collectors: b.collectors.clone(),
                presence: presence.clone(),
                clock: b.clock.clone(),
            },
            query: QueryMetrics {
                tiers: b.tiers.clone(),
                clock: b.clock.clone(),
                retention_settings: BTreeMap::new(),
                max_rows: limits.query_rows,
                max_cells: limits.query_cells,
                max_points_per_series: limits.query_points_per_series,
                max_answer_points: limits.query_answer_points,
            },
            collectors: CollectorAdmin {
                collectors: b.collectors.clone(),
                presence,
                clock: b.clock.clone(),
            },
            servers: ServerCatalog {
                metrics: b.metrics.clone(),
            },
            fleet: FleetOverview {
                metrics: b.metrics.clone(),
                collectors: b.collectors.clone(),
                alerts: b.alerts.clone(),
                clock: b.clock.clone(),
            },
            login: Login::new(b),
            refresh: RefreshSession::new(b),
            logout: Logout {
                sessions: b.sessions.clone(),
                clock: b.clock.clone(),
            },
            users: UserAdmin {
                users: b.users.clone(),
                hasher: b.hasher.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            api_tokens: CreateApiToken {
                tokens: b.api_tokens.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            registration_tokens: CreateRegistrationToken {
                tokens: b.registration_tokens.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            audit_log: AuditLog {
                audit: b.audit.clone(),
            },
            secrets: Secrets {
                store: b.secrets.clone(),
                channels: b.channels.clone(),
                cipher: b.cipher.clone(),
                clock: b.clock.clone(),
            },
            maintenance: Maintenance {
                metrics: b.metrics.clone(),
                tiers: b.tiers.clone(),
                alerts: b.alerts.clone(),
                leader: b.leader.clone(),
                clock: b.clock.clone(),
                retention_settings: BTreeMap::new(),
                columnar_after: None,
            },
            retention: RetentionAdmin {
                tiers: b.tiers.clone(),
                clock: b.clock.clone(),
                retention_settings: BTreeMap::new(),
            },
            statements: QueryStatements {
                tiers: b.tiers.clone(),
                metrics: b.metrics.clone(),
                clock: b.clock.clone(),
                retention_settings: BTreeMap::new(),
                max_points_per_series: limits.query_points_per_series,
            },
            log_events: SearchLogEvents {
                tiers: b.tiers.clone(),
                clock: b.clock.clone(),
            },
            health: Health {
                metrics: b.metrics.clone(),
                pools: b.pools.clone(),
            },
            evaluate_alerts: EvaluateAlerts {
                rules: b.alert_rules.clone(),
                alerts: b.alerts.clone(),
                channels: b.channels.clone(),
                metrics: b.metrics.clone(),
                collectors: b.collectors.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
                leader: b.leader.clone(),
                rule_timeout: limits.alert_rule_timeout,
                max_rows: limits.alert_rows,
                memory: Default::default(),
                paced: true,
            },
            notify: DeliverNotifications {
                channels: b.channels.clone(),
                notifier: b.notifier.clone(),
                cipher: b.cipher.clone(),
                clock: b.clock.clone(),
                lease: time::Duration::minutes(2),
                batch: 500,
            },
            rules: RuleAdmin {
                rules: b.alert_rules.clone(),
                alerts: b.alerts.clone(),
                metrics: b.metrics.clone(),
                clock: b.clock.clone(),
            },
            alerts: AlertAdmin {
                alerts: b.alerts.clone(),
                rules: b.alert_rules.clone(),
                channels: b.channels.clone(),
                metrics: b.metrics.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
            channels: ChannelAdmin {
                channels: b.channels.clone(),
                cipher: b.cipher.clone(),
                clock: b.clock.clone(),
                ids: b.ids.clone(),
            },
        }
    }
}

impl ServerUseCases {
    /// Partitions older than `age` move to columnar storage where the database offers it.
    pub fn with_columnar_after(mut self, age: Option<time::Duration>) -> Self {
        self.maintenance.columnar_after = age;
        self
    }

    /// The retention the settings file chose, per family: every use case that reads or
    /// applies retention gets it.
    pub fn with_retention_settings(mut self, settings: BTreeMap<String, Retention>) -> Self {
        self.maintenance.retention_settings = settings.clone();
        self.retention.retention_settings = settings.clone();
        self.statements.retention_settings = settings.clone();
        self.query.retention_settings = settings;
        self
    }
}

impl std::fmt::Debug for ServerUseCases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerUseCases")
    }
}
