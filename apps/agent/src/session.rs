//! The collector's session with its server: the mTLS client and the current token, shared
//! by the sender and the config poller. A 401 gets one token refresh (by client certificate
//! alone) and one retry. After a certificate renewal the client is rebuilt in place.

use anyhow::Context as _;
use pganalytics_adapters::http::{CollectorClient, HttpError, PushAnswer};
use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::PushResult;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use crate::identity::Identity;

pub struct Session {
    server_url: Option<String>,
    current: RwLock<(Arc<Identity>, Arc<CollectorClient>)>,
    token: Mutex<SecretString>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

fn client_for(identity: &Identity, server_url: Option<&str>) -> anyhow::Result<CollectorClient> {
    let url = server_url.unwrap_or(&identity.server_url);
    CollectorClient::new(
        url,
        &identity.ca_pem,
        &identity.cert_pem,
        identity.key_pem.expose_secret(),
        &identity.collector_id.to_string(),
    )
    .context("setting up TLS with the identity's certificate")
}

impl Session {
    pub fn open(identity: Identity, server_url: Option<&str>) -> anyhow::Result<Self> {
        let client = client_for(&identity, server_url)?;
        let token = identity.token()?;
        Ok(Self {
            server_url: server_url.map(str::to_owned),
            current: RwLock::new((Arc::new(identity), Arc::new(client))),
            token: Mutex::new(token),
        })
    }

    pub fn identity(&self) -> Arc<Identity> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    pub fn client(&self) -> Arc<CollectorClient> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Reads the identity again (after a renewal) and rebuilds the client with it.
    pub fn reload(&self, state_dir: &Path) -> anyhow::Result<()> {
        let identity = Identity::load(state_dir)?;
        let client = client_for(&identity, self.server_url.as_deref())?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            (Arc::new(identity), Arc::new(client));
        Ok(())
    }

    fn token(&self) -> SecretString {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Gets a new token with the client certificate and keeps it.
    pub fn refresh(&self) -> Result<(), HttpError> {
        let fresh: SecretString = self.client().refresh_token()?.into();
        // Losing the stored copy only costs a refresh at the next start.
        let _ = self.identity().store_token(&fresh);
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// Pushes a compressed batch; on 401 refreshes the token once and pushes again.
    pub fn push(&self, batch: &[u8]) -> PushAnswer {
        let answer = self.client().push(self.token().expose_secret(), batch);
        if answer.result != PushResult::Status(401) {
            return answer;
        }
        match self.refresh() {
            Ok(()) => self.client().push(self.token().expose_secret(), batch),
            Err(_) => answer,
        }
    }

    /// The server's configuration if it changed from `etag`; refreshes the token on 401.
    pub fn config(&self, etag: Option<&str>) -> Result<Option<CollectorConfig>, HttpError> {
        match self.client().config(self.token().expose_secret(), etag) {
            Err(HttpError::Refused { status: 401, .. }) => {
                self.refresh()?;
                self.client().config(self.token().expose_secret(), etag)
            }
            other => other,
        }
    }
}
