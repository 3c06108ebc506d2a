use pganalytics_domain::access::Role;
use pganalytics_domain::audit::AuditContext;
use pganalytics_domain::collector::{Collector, CollectorId, MonitoredServer};
use pganalytics_domain::config::{CollectorConfig, Intervals};
use pganalytics_domain::credentials::{
    ApiToken, ApiTokenSecret, CredentialError, RegistrationSecret, RegistrationToken, Uses,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;
use crate::env::{Clock, IdSource};
use crate::store::{
    ApiTokenStore, CollectorStore, ConnectionPools, MetricStore, PoolUsage, RegistrationTokenStore,
};
use crate::usecases::presence::CollectorPresence;

/// A registration token just created: the secret is shown once and never stored.
#[derive(Debug)]
pub struct CreatedRegistrationToken {
    pub secret: RegistrationSecret,
    pub uses: u32,
    pub expires_at: OffsetDateTime,
}

pub struct CreateRegistrationToken {
    pub tokens: Arc<dyn RegistrationTokenStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl CreateRegistrationToken {
    pub const MAX_TTL: Duration = Duration::days(30);

    pub async fn execute(
        &self,
        ctx: &AuditContext,
        uses: u32,
        ttl: Duration,
    ) -> Result<CreatedRegistrationToken, CreateTokenError> {
        let uses = Uses::new(uses)?;
        if ttl <= Duration::ZERO || ttl > Self::MAX_TTL {
            return Err(CreateTokenError::Ttl);
        }
        let now = self.clock.now();
        let secret = RegistrationSecret::from_bytes(&self.ids.secret());
        let token = RegistrationToken {
            id: self.ids.uuid(),
            hash: secret.hash(),
            uses_left: uses.get(),
            expires_at: now + ttl,
            created_at: now,
        };
        let audit = ctx
            .entry(
                "registration_token.create",
                Some(format!("registration_token:{}", token.id)),
                now,
            )
            .detail("uses", token.uses_left)
            .detail("expires_at", token.expires_at);
        self.tokens
            .create_registration_token(&token, &audit)
            .await?;
        Ok(CreatedRegistrationToken {
            secret,
            uses: uses.get(),
            expires_at: token.expires_at,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTokenError {
    #[error(transparent)]
    Invalid(#[from] CredentialError),
    #[error("the lifetime must be positive and at most 30 days")]
    Ttl,
    #[error("the lifetime of an API token must be 1 to 3,650 days")]
    ApiTokenTtl,
    #[error("the name must be 1 to 64 printable characters")]
    Name,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An API token just created: the secret is shown once and stored only as a hash.
#[derive(Debug)]
pub struct CreatedApiToken {
    pub secret: ApiTokenSecret,
    pub token: ApiToken,
}

pub struct CreateApiToken {
    pub tokens: Arc<dyn ApiTokenStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl CreateApiToken {
    /// Ten years: beyond that an expiry means nothing (and far enough beyond, the date
    /// overflows).
    pub const MAX_TTL: Duration = Duration::days(3650);

    /// A token named `name` acting as `role`, for `owner` (a personal token) or none (a
    /// service token), valid for `ttl` or until revoked.
    pub async fn execute(
        &self,
        ctx: &AuditContext,
        name: &str,
        role: Role,
        ttl: Option<Duration>,
        owner: Option<Uuid>,
    ) -> Result<CreatedApiToken, CreateTokenError> {
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(CreateTokenError::Name);
        }
        if ttl.is_some_and(|t| t <= Duration::ZERO || t > Self::MAX_TTL) {
            return Err(CreateTokenError::ApiTokenTtl);
        }
        let now = self.clock.now();
        let secret = ApiTokenSecret::from_bytes(&self.ids.public_id(), &self.ids.secret());
        let token = ApiToken {
            id: self.ids.uuid(),
            name: name.to_owned(),
            role,
            owner,
            prefix: secret.prefix().to_owned(),
            hash: secret.hash(),
            created_at: now,
            expires_at: ttl.map(|t| now + t),
            revoked_at: None,
        };
        let audit = ctx
            .entry(
                "api_token.create",
                Some(format!("api_token:{}", token.id)),
                now,
            )
            .detail("prefix", &token.prefix)
            .detail("name", &token.name)
            .detail("role", role.as_str());
        self.tokens.create_api_token(&token, &audit).await?;
        Ok(CreatedApiToken { secret, token })
    }

    pub async fn list(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.tokens.list_api_tokens().await
    }

    /// Whether `token` works now: neither revoked nor expired.
    pub fn usable(&self, token: &ApiToken) -> bool {
        token.check_usable(self.clock.now()).is_ok()
    }

    /// Revokes at once: the next request made with the token is refused.
    pub async fn revoke(&self, ctx: &AuditContext, id: Uuid) -> Result<ApiToken, StoreError> {
        let now = self.clock.now();
        let audit = ctx.entry("api_token.revoke", Some(format!("api_token:{id}")), now);
        self.tokens.revoke_api_token(id, now, &audit).await
    }
}

/// How many collectors are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorCounts {
    pub active: usize,
    pub revoked: usize,
    /// Active, and seen in the last [`CollectorAdmin::REPORTING_WITHIN`].
    pub reporting: usize,
}

/// Listing, reading and revoking collectors.
pub struct CollectorAdmin {
    pub collectors: Arc<dyn CollectorStore>,
    /// Forgets a revoked collector at once, so this server refuses its next push.
    pub presence: Arc<CollectorPresence>,
    pub clock: Arc<dyn Clock>,
}

impl CollectorAdmin {
    /// A collector seen this recently is reporting.
    pub const REPORTING_WITHIN: Duration = Duration::minutes(5);

    pub async fn list(&self) -> Result<Vec<Collector>, StoreError> {
        self.collectors.list_collectors().await
    }

    pub async fn counts(&self) -> Result<CollectorCounts, StoreError> {
        let now = self.clock.now();
        let mut counts = CollectorCounts::default();
        for c in self.collectors.list_collectors().await? {
            if !c.is_active() {
                counts.revoked += 1;
                continue;
            }
            counts.active += 1;
            if c.last_seen
                .is_some_and(|t| now - t < Self::REPORTING_WITHIN)
            {
                counts.reporting += 1;
            }
        }
        Ok(counts)
    }
    pub async fn get(&self, id: CollectorId) -> Result<Collector, StoreError> {
        self.collectors.get_collector(id).await
    }
    /// Revokes at once: the next request with its certificate or token is refused.
    pub async fn revoke(
        &self,
        ctx: &AuditContext,
        id: CollectorId,
    ) -> Result<Collector, StoreError> {
        let now = self.clock.now();
        let audit = ctx.entry("collector.revoke", Some(format!("collector:{id}")), now);
        let revoked = self.collectors.revoke_collector(id, now, &audit).await;
        self.presence.forget(id);
        revoked
    }
}

pub struct GetCollectorConfig {
    pub collectors: Arc<dyn CollectorStore>,
}

impl GetCollectorConfig {
    pub async fn execute(&self, collector: &Collector) -> Result<CollectorConfig, StoreError> {
        self.collectors.collector_config(collector.id).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigUpdateError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Changes a collector's configuration: its agent picks it up at its next push (the answer
/// announces the new version) without a restart.
pub struct UpdateCollectorConfig {
    pub collectors: Arc<dyn CollectorStore>,
    /// Forgets the old configuration, so the next push's answer announces the new one.
    pub presence: Arc<CollectorPresence>,
    pub clock: Arc<dyn Clock>,
}

impl UpdateCollectorConfig {
    pub async fn execute(
        &self,
        ctx: &AuditContext,
        id: CollectorId,
        intervals: Intervals,
        enabled_families: BTreeSet<String>,
    ) -> Result<CollectorConfig, ConfigUpdateError> {
        intervals
            .validate()
            .map_err(|e| ConfigUpdateError::Invalid(e.to_string()))?;
        if let Some(unknown) = enabled_families
            .iter()
            .find(|f| pganalytics_domain::catalog::family(f).is_none())
        {
            return Err(ConfigUpdateError::Invalid(format!(
                "{unknown} is not a metric family"
            )));
        }
        let now = self.clock.now();
        let audit = ctx
            .entry(
                "collector.config.update",
                Some(format!("collector:{id}")),
                now,
            )
            .detail(
                "enabled_families",
                enabled_families
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
            );
        let config = self
            .collectors
            .set_collector_config(id, intervals, enabled_families, now, &audit)
            .await;
        self.presence.forget(id);
        Ok(config?)
    }
}

/// Whether the store answers, and how its connection pools are used.
pub struct Health {
    pub metrics: Arc<dyn MetricStore>,
    pub pools: Arc<dyn ConnectionPools>,
}

impl Health {
    pub async fn check(&self) -> Result<(), StoreError> {
        self.metrics.ping().await
    }

    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        self.pools.pool_usage()
    }
}

/// The monitored instances the server has seen.
pub struct ServerCatalog {
    pub metrics: Arc<dyn MetricStore>,
}

impl ServerCatalog {
    pub async fn list(&self) -> Result<Vec<MonitoredServer>, StoreError> {
        self.metrics.list_servers().await
    }
    pub async fn get(&self, id: i64) -> Result<MonitoredServer, StoreError> {
        self.metrics.get_server(id).await
    }
}

crate::usecases::auth::opaque_debug!(
    CreateRegistrationToken,
    CreateApiToken,
    CollectorAdmin,
    GetCollectorConfig,
    UpdateCollectorConfig,
    ServerCatalog,
    Health
);
