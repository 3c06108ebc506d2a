//! The backend: every port the server's use cases drive, as trait objects, built once per
//! process by one set of adapters (PostgreSQL in production, memory in tests and in tools
//! that embed the domain) and handed to [`crate::usecases::ServerUseCases::new`].
//!
//! It holds nothing concrete, so the server runs on any set of adapters that passes the
//! contract suite, and it carries the process's one clock and one id source.

use std::sync::Arc;

use crate::crypto::{CertificateAuthority, PasswordHasher, SecretCipher, TokenSigner};
use crate::env::{Clock, IdSource};
use crate::notify::Notifier;
use crate::store::{
    AlertRuleStore, AlertStore, ApiTokenStore, AuditStore, ChannelStore, CollectorStore,
    ConnectionPools, LeaderLease, MetricStore, RegistrationTokenStore, SecretStore, SessionStore,
    Stores, TierStore, UserStore,
};

#[derive(Clone)]
pub struct Backend {
    pub registration_tokens: Arc<dyn RegistrationTokenStore>,
    pub collectors: Arc<dyn CollectorStore>,
    pub api_tokens: Arc<dyn ApiTokenStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub audit: Arc<dyn AuditStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub pools: Arc<dyn ConnectionPools>,
    pub alert_rules: Arc<dyn AlertRuleStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub leader: Arc<dyn LeaderLease>,
    pub tiers: Arc<dyn TierStore>,
    pub notifier: Arc<dyn Notifier>,
    pub ca: Arc<dyn CertificateAuthority>,
    pub signer: Arc<dyn TokenSigner>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub cipher: Arc<dyn SecretCipher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl Backend {
    /// Every store from one value that implements them all (what both store adapters do),
    /// with the services beside it.
    pub fn from_store<S: Stores>(store: Arc<S>, services: Services) -> Self {
        Self {
            registration_tokens: store.clone(),
            collectors: store.clone(),
            api_tokens: store.clone(),
            metrics: store.clone(),
            users: store.clone(),
            sessions: store.clone(),
            audit: store.clone(),
            secrets: store.clone(),
            alert_rules: store.clone(),
            alerts: store.clone(),
            channels: store.clone(),
            leader: store.clone(),
            tiers: store.clone(),
            pools: store,
            notifier: services.notifier,
            ca: services.ca,
            signer: services.signer,
            hasher: services.hasher,
            cipher: services.cipher,
            clock: services.clock,
            ids: services.ids,
        }
    }
}

/// The backend's ports that are not stores.
pub struct Services {
    pub notifier: Arc<dyn Notifier>,
    pub ca: Arc<dyn CertificateAuthority>,
    pub signer: Arc<dyn TokenSigner>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub cipher: Arc<dyn SecretCipher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
