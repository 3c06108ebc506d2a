//! The agent's HTTP client for the server (ureq over native TLS, i.e. OpenSSL): enrolment,
//! and [`HttpTransport`], the [`Transport`] a registered agent delivers through.
//!
//! ureq 3 defaults to its Rustls provider even when only native-tls is compiled in, and
//! panics on the first https call; the provider is therefore always set explicitly.

use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::{PushResult, parse_retry_after};
use pganalytics_ports::transport::{PushAnswer, Transport, TransportError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

/// What the server returns on enrolment. `Debug` leaves the token out.
#[derive(Clone, Deserialize)]
pub struct Enrolment {
    pub collector_id: String,
    pub certificate: String,
    pub ca_certificate: String,
    pub token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("collector_id", &self.collector_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How long an agent keeps an idle connection to the server. An agent pushes every 15 s by
/// default (its shortest collection interval): kept longer than that (ureq's default is
/// 15 s), its pushes share one TLS session; the server keeps idle connections
/// `keep_alive_seconds` (30 s).
pub const IDLE_CONNECTION: Duration = Duration::from_secs(25);

/// An HTTPS agent that trusts only `ca_pem`.
pub fn agent_trusting(ca_pem: &str) -> Result<ureq::Agent, TransportError> {
    agent_with(ca_pem, None)
}

/// An HTTPS agent that trusts only `ca_pem` and presents `client` (certificate, PKCS#8 key).
fn agent_with(ca_pem: &str, client: Option<(&str, &str)>) -> Result<ureq::Agent, TransportError> {
    let ca = Certificate::from_pem(ca_pem.as_bytes())
        .map_err(|e| TransportError::Setup(e.to_string()))?;
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[ca]));
    if let Some((cert, key)) = client {
        let cert = Certificate::from_pem(cert.as_bytes())
            .map_err(|e| TransportError::Setup(format!("client certificate: {e}")))?;
        // The error of a key that does not parse is not shown: it could quote the key.
        let key = PrivateKey::from_pem(key.as_bytes())
            .map_err(|_| TransportError::Setup("the client key is not a PEM PKCS#8 key".into()))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_age(IDLE_CONNECTION)
        .build()
        .into())
}

/// `POST /api/v1/collectors/register` with a registration token and a CSR.
pub fn enrol(
    server_url: &str,
    ca_pem: &str,
    registration_token: &str,
    name: &str,
    hostname: &str,
    csr_pem: &str,
) -> Result<Enrolment, TransportError> {
    let url = format!(
        "{}/api/v1/collectors/register",
        server_url.trim_end_matches('/')
    );
    let (status, body) = answer(
        agent_trusting(ca_pem)?
            .post(&url)
            .header("Authorization", &format!("Bearer {registration_token}"))
            .send_json(json!({ "name": name, "hostname": hostname, "csr": csr_pem })),
    )?;
    if status != 201 {
        return Err(error_of(status, &body));
    }
    serde_json::from_str(&body).map_err(|e| TransportError::BadAnswer(e.to_string()))
}

/// A registered collector talking to its server over mutual TLS (one certificate; the token
/// is passed in).
struct CollectorClient {
    agent: ureq::Agent,
    base: String,
    collector_id: String,
}

impl std::fmt::Debug for CollectorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorClient")
            .field("base", &self.base)
            .field("collector_id", &self.collector_id)
            .finish_non_exhaustive()
    }
}

fn error_of(status: u16, body: &str) -> TransportError {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    TransportError::Refused {
        status,
        code: v["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
        message: v["error"]["message"].as_str().unwrap_or(body).to_owned(),
    }
}

impl CollectorClient {
    fn new(
        server_url: &str,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        collector_id: &str,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            agent: agent_with(ca_pem, Some((cert_pem, key_pem)))?,
            base: format!("{}/api/v1", server_url.trim_end_matches('/')),
            collector_id: collector_id.to_owned(),
        })
    }

    /// `POST /metrics/push` with a zstd-compressed batch. Never fails: a transport error is
    /// a [`PushResult::NetworkError`] answer.
    fn push(&self, token: &str, zstd_batch: &[u8]) -> PushAnswer {
        let sent = self
            .agent
            .post(&format!("{}/metrics/push", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "zstd")
            .send(zstd_batch);
        match sent {
            Err(e) => PushAnswer {
                result: PushResult::NetworkError,
                retry_after: None,
                body: e.to_string(),
            },
            Ok(mut res) => {
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let status = res.status().as_u16();
                // Read the whole body: ureq reuses the connection only then.
                match res.body_mut().read_to_string() {
                    Ok(body) => PushAnswer {
                        result: PushResult::Status(status),
                        retry_after,
                        body,
                    },
                    Err(e) => PushAnswer {
                        result: PushResult::NetworkError,
                        retry_after,
                        body: e.to_string(),
                    },
                }
            }
        }
    }

    /// `POST /collectors/{id}/token`: a fresh collector token, by client certificate alone.
    fn refresh_token(&self) -> Result<String, TransportError> {
        string_field(
            self.agent
                .post(&format!(
                    "{}/collectors/{}/token",
                    self.base, self.collector_id
                ))
                .send_empty(),
            "token",
        )
    }

    /// `GET /config/{id}`; `None` when the server says the version in `etag` is current.
    fn config(
        &self,
        token: &str,
        etag: Option<&str>,
    ) -> Result<Option<CollectorConfig>, TransportError> {
        let mut req = self
            .agent
            .get(&format!("{}/config/{}", self.base, self.collector_id))
            .header("Authorization", &format!("Bearer {token}"));
        if let Some(etag) = etag {
            req = req.header("If-None-Match", etag);
        }
        let (status, body) = answer(req.call())?;
        match status {
            304 => Ok(None),
            200 => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| TransportError::BadAnswer(e.to_string())),
            _ => Err(error_of(status, &body)),
        }
    }

    /// `POST /collectors/{id}/certificate`: a certificate for the key of `csr_pem`.
    fn renew_certificate(&self, csr_pem: &str) -> Result<String, TransportError> {
        string_field(
            self.agent
                .post(&format!(
                    "{}/collectors/{}/certificate",
                    self.base, self.collector_id
                ))
                .send_json(json!({ "csr": csr_pem })),
            "certificate",
        )
    }

    /// `GET /health`.
    fn health(&self) -> Result<(), TransportError> {
        health_of(&self.agent, &self.base)
    }
}

/// `GET /api/v1/health` of the server at `server_url`, trusting only `ca_pem` and showing no client
/// certificate: the server's own `health` command (a container's health check).
pub fn server_health(server_url: &str, ca_pem: &str) -> Result<(), TransportError> {
    let base = format!("{}/api/v1", server_url.trim_end_matches('/'));
    health_of(&agent_trusting(ca_pem)?, &base)
}

fn health_of(agent: &ureq::Agent, base: &str) -> Result<(), TransportError> {
    let (status, body) = answer(agent.get(&format!("{base}/health")).call())?;
    if status == 200 {
        Ok(())
    } else {
        Err(error_of(status, &body))
    }
}

type Sent = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// The status and the whole body of an answer (read to the end: ureq reuses a connection
/// only then); no answer at all is a transport error.
fn answer(sent: Sent) -> Result<(u16, String), TransportError> {
    let mut res = sent.map_err(|e| TransportError::Unreachable(e.to_string()))?;
    let body = res
        .body_mut()
        .read_to_string()
        .map_err(|e| TransportError::Unreachable(e.to_string()))?;
    Ok((res.status().as_u16(), body))
}

/// The string `field` of a `200` JSON answer; the server's error otherwise.
fn string_field(sent: Sent, field: &str) -> Result<String, TransportError> {
    let (status, body) = answer(sent)?;
    if status != 200 {
        return Err(error_of(status, &body));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| TransportError::BadAnswer(e.to_string()))?;
    v[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| TransportError::BadAnswer(format!("no {field} in the answer")))
}

/// `GET /collectors/{id}/certificate` (public): the collector's current certificate.
pub fn current_certificate(
    server_url: &str,
    ca_pem: &str,
    collector_id: &str,
) -> Result<String, TransportError> {
    let url = format!(
        "{}/api/v1/collectors/{collector_id}/certificate",
        server_url.trim_end_matches('/')
    );
    string_field(agent_trusting(ca_pem)?.get(&url).call(), "certificate")
}

/// Who the agent is to its server: what [`HttpTransport`] needs to reach it.
#[derive(Clone)]
pub struct ClientIdentity {
    pub server_url: String,
    pub collector_id: String,
    /// The server's CA, the only one trusted.
    pub ca_pem: String,
    pub cert_pem: String,
    /// PKCS#8 PEM.
    pub key_pem: SecretString,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("server_url", &self.server_url)
            .field("collector_id", &self.collector_id)
            .finish_non_exhaustive()
    }
}

/// The [`Transport`] over HTTPS: mutual TLS with the collector's certificate, the collector
/// token on every call, a fresh token kept in `token_file` (0600) for the next start, and
/// the client rebuilt in place after a certificate renewal. Shared by the agent's threads.
pub struct HttpTransport {
    identity: RwLock<ClientIdentity>,
    client: RwLock<Arc<CollectorClient>>,
    token: Mutex<SecretString>,
    token_file: Option<PathBuf>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field(
                "identity",
                &*self.identity.read().unwrap_or_else(|p| p.into_inner()),
            )
            .finish_non_exhaustive()
    }
}

fn client_for(identity: &ClientIdentity) -> Result<CollectorClient, TransportError> {
    CollectorClient::new(
        &identity.server_url,
        &identity.ca_pem,
        &identity.cert_pem,
        identity.key_pem.expose_secret(),
        &identity.collector_id,
    )
}

impl HttpTransport {
    /// A transport for `identity` with the collector token `token`; a refreshed token is
    /// written to `token_file` when given.
    pub fn new(
        identity: ClientIdentity,
        token: SecretString,
        token_file: Option<PathBuf>,
    ) -> Result<Self, TransportError> {
        let client = client_for(&identity)?;
        Ok(Self {
            identity: RwLock::new(identity),
            client: RwLock::new(Arc::new(client)),
            token: Mutex::new(token),
            token_file,
        })
    }

    fn client(&self) -> Arc<CollectorClient> {
        self.client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn token(&self) -> SecretString {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `GET /health` over the collector's own connection (what `check` tries).
    pub fn health(&self) -> Result<(), TransportError> {
        self.client().health()
    }
}

impl Transport for HttpTransport {
    fn push(&self, batch: &[u8]) -> PushAnswer {
        self.client().push(self.token().expose_secret(), batch)
    }

    fn refresh_token(&self) -> Result<(), TransportError> {
        let fresh = SecretString::from(self.client().refresh_token()?);
        if let Some(file) = &self.token_file {
            // Losing the stored copy only costs a refresh at the next start.
            let _ = crate::fs::write_atomic(file, fresh.expose_secret().as_bytes(), 0o600);
        }
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn config(&self, etag: Option<&str>) -> Result<Option<CollectorConfig>, TransportError> {
        self.client().config(self.token().expose_secret(), etag)
    }

    fn renew_certificate(&self, csr_pem: &str) -> Result<String, TransportError> {
        self.client().renew_certificate(csr_pem)
    }

    fn use_certificate(
        &self,
        cert_pem: &str,
        key_pem: &SecretString,
    ) -> Result<(), TransportError> {
        let mut identity = self
            .identity
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        identity.cert_pem = cert_pem.to_owned();
        identity.key_pem = key_pem.clone();
        let client = client_for(&identity)?;
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(client);
        *self.identity.write().unwrap_or_else(|p| p.into_inner()) = identity;
        Ok(())
    }
}
