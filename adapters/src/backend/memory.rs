use pganalytics_ports::env::{Clock, IdSource};
use pganalytics_ports::{Backend, Services};
use secrecy::SecretString;
use std::sync::Arc;

use super::{BackendError, Context as _};
use crate::jwt::JoseSigner;
use crate::memory::MemoryStore;
use crate::password::{Bcrypt, MIN_PRODUCTION_COST};
use crate::pki::OpensslCa;
use crate::secrets::KeyRing;

/// How the memory backend hashes passwords.
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// Bcrypt cost; production strength by default, 4 for tests.
    pub bcrypt_cost: u32,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            bcrypt_cost: MIN_PRODUCTION_COST,
        }
    }
}

/// Every port in memory: the stores, a CA, a token key and a secrets key ring made at start
/// and never written anywhere. Gone when dropped.
pub struct MemoryBackend {
    backend: Backend,
    store: Arc<MemoryStore>,
    signing_key_pem: SecretString,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

impl MemoryBackend {
    pub fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        options: &MemoryOptions,
    ) -> Result<Self, BackendError> {
        let now = clock.now();
        let key_pem = JoseSigner::new_key_pem().part("the token key")?;
        let signer = JoseSigner::from_pem(&key_pem).part("the token key")?;
        let store = Arc::new(MemoryStore::new());
        let services = Services {
            notifier: Arc::new(crate::notify::HttpNotifier::new(clock.clone(), "")),
            ca: Arc::new(OpensslCa::ephemeral(now).part("the certificate authority")?),
            signer: Arc::new(signer),
            hasher: Arc::new(Bcrypt::new(options.bcrypt_cost).part("the password hasher")?),
            cipher: Arc::new(KeyRing::generate(now).part("the secrets key ring")?),
            clock,
            ids,
        };
        Ok(Self {
            backend: Backend::from_store(store.clone(), services),
            store,
            signing_key_pem: SecretString::from(String::from_utf8_lossy(&key_pem).into_owned()),
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The stores themselves, for a test to look at what was stored.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// The key tokens are signed with (PKCS#8 PEM): for tests that forge tokens.
    pub fn signing_key_pem(&self) -> &SecretString {
        &self.signing_key_pem
    }
}
