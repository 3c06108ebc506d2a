//! The agent's HTTP client for the server (ureq over native TLS, i.e. OpenSSL).
//!
//! ureq 3 defaults to its Rustls provider even when only native-tls is compiled in, and
//! panics on the first https call; the provider is therefore always set explicitly.

use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("the CA certificate is not valid PEM: {0}")]
    Ca(String),
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered with an error (its `error.code` and `error.message`).
    #[error("the server refused ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer is not what was expected: {0}")]
    BadAnswer(String),
}

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

/// An HTTPS agent that trusts only `ca_pem`.
pub fn agent_trusting(ca_pem: &str) -> Result<ureq::Agent, HttpError> {
    let ca = Certificate::from_pem(ca_pem.as_bytes()).map_err(|e| HttpError::Ca(e.to_string()))?;
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[ca]))
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
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
) -> Result<Enrolment, HttpError> {
    let url = format!(
        "{}/api/v1/collectors/register",
        server_url.trim_end_matches('/')
    );
    let mut res = agent_trusting(ca_pem)?
        .post(&url)
        .header("Authorization", &format!("Bearer {registration_token}"))
        .send_json(json!({ "name": name, "hostname": hostname, "csr": csr_pem }))
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    let status = res.status().as_u16();
    let body = res
        .body_mut()
        .read_to_string()
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    if status != 201 {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        return Err(HttpError::Refused {
            status,
            code: v["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
            message: v["error"]["message"].as_str().unwrap_or(&body).to_owned(),
        });
    }
    serde_json::from_str(&body).map_err(|e| HttpError::BadAnswer(e.to_string()))
}
