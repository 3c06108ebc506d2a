//! The agent's identity in its state directory, as `register` stored it: collector id,
//! certificate, key, the server's CA, the current collector token.

use anyhow::Context as _;
use pganalytics_adapters::http::{ClientIdentity, HttpTransport};
use secrecy::SecretString;
use serde::Deserialize;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Stored {
    collector_id: String,
    name: String,
    server_url: String,
}

pub struct Identity {
    pub dir: PathBuf,
    pub collector_id: uuid::Uuid,
    pub name: String,
    pub server_url: String,
    pub cert_pem: String,
    pub key_pem: SecretString,
    pub ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("dir", &self.dir)
            .field("collector_id", &self.collector_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

impl Identity {
    pub fn dir_in(state_dir: &Path) -> PathBuf {
        state_dir.join("identity")
    }

    pub fn load(state_dir: &Path) -> anyhow::Result<Self> {
        let dir = Self::dir_in(state_dir);
        let stored = dir.join("collector.json");
        if !stored.is_file() {
            anyhow::bail!(
                "this agent is not registered ({} is missing).\nFix: run `pganalytics-agent \
                 register --server URL --ca-file CA.pem` with PGANALYTICS_AGENT_REGISTRATION_TOKEN \
                 set to a token from `pganalytics-server registration-token create`",
                stored.display()
            );
        }
        let s: Stored = serde_json::from_str(&read(&stored)?)
            .with_context(|| format!("{} is damaged", stored.display()))?;
        Ok(Self {
            collector_id: s.collector_id.parse().context("collector id")?,
            name: s.name,
            server_url: s.server_url,
            cert_pem: read(&dir.join("cert.pem"))?,
            key_pem: read(&dir.join("key.pem"))?.into(),
            ca_pem: read(&dir.join("ca.pem"))?,
            dir,
        })
    }

    fn token_file(&self) -> PathBuf {
        self.dir.join("token")
    }

    /// The HTTPS transport to the server (at `server_url` when given, else where the agent
    /// registered), with the stored collector token; a refreshed token is stored again.
    pub fn transport(&self, server_url: Option<&str>) -> anyhow::Result<HttpTransport> {
        let token: SecretString = read(&self.token_file())?.trim().to_owned().into();
        let client = ClientIdentity {
            server_url: server_url.unwrap_or(&self.server_url).to_owned(),
            collector_id: self.collector_id.to_string(),
            ca_pem: self.ca_pem.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        };
        HttpTransport::new(client, token, Some(self.token_file()))
            .context("setting up TLS with the identity's certificate")
    }
}
