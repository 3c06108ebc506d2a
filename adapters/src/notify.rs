//! The notifier: webhooks (JSON signed with HMAC-SHA256), Slack-compatible incoming
//! webhooks, PagerDuty Events v2 and Prometheus Alertmanager over HTTP(S) with ureq (native
//! TLS, i.e. OpenSSL), and e-mail over SMTP with STARTTLS with lettre. Blocking clients, run
//! on tokio's blocking pool.
//!
//! A webhook receiver verifies `X-Pganalytics-Signature: sha256=<hex>`, the HMAC-SHA256 of
//! `<X-Pganalytics-Timestamp>.<body>` under the channel's secret, refuses timestamps too far
//! from its clock (replays), and drops a message whose `X-Pganalytics-Idempotency-Key` (or
//! alert `transition_id`) it has seen: a server that crashed between sending and recording
//! sends the same message again.

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate as SmtpCertificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use pganalytics_domain::alerts::channel::{Channel, ChannelKind, Message, PAGERDUTY_EVENTS_URL};
use pganalytics_ports::notify::{Notifier, NotifyError};
use secrecy::{ExposeSecret, SecretString};

use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends notifications; `clock_unix` gives the signature's timestamp (the server's clock).
pub struct HttpNotifier {
    clock: std::sync::Arc<dyn pganalytics_ports::env::Clock>,
    /// The address receivers link back to (Alertmanager's `generatorURL`).
    public_url: String,
}

impl std::fmt::Debug for HttpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpNotifier").finish_non_exhaustive()
    }
}

impl HttpNotifier {
    pub fn new(clock: std::sync::Arc<dyn pganalytics_ports::env::Clock>, public_url: &str) -> Self {
        Self {
            clock,
            public_url: public_url.to_owned(),
        }
    }
}

/// `sha256=<hex>` of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(secret)?;
        let mut s = Signer::new(MessageDigest::sha256(), &key)?;
        s.update(timestamp.to_string().as_bytes())?;
        s.update(b".")?;
        s.update(body)?;
        s.sign_to_vec()
    };
    format!("sha256={}", hex::encode(sign().unwrap_or_default()))
}

fn agent(channel: &Channel) -> Result<ureq::Agent, NotifyError> {
    let roots = match &channel.settings.ca_pem {
        Some(pem) => {
            let ca = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| NotifyError::Permanent(format!("the channel's CA: {e}")))?;
            RootCerts::new_with_certs(&[ca])
        }
        None => RootCerts::PlatformVerifier,
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(roots)
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into())
}

/// POSTs `body` as JSON with extra headers; 2xx is delivered, 408/429/5xx and transport
/// errors are retried, other answers are permanent.
fn post(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> Result<(), NotifyError> {
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("pganalytics-server/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    match req.send(body) {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            // Read the answer so the connection is reused, and quote the start of it.
            let text = resp
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            let what = format!(
                "the receiver answered {status}: {}",
                text.chars().take(200).collect::<String>()
            );
            match status {
                200..=299 => Ok(()),
                408 | 429 | 500..=599 => Err(NotifyError::Retry(what)),
                _ => Err(NotifyError::Permanent(what)),
            }
        }
        Err(e) => Err(NotifyError::Retry(format!(
            "cannot reach the receiver: {e}"
        ))),
    }
}

fn need_url(channel: &Channel) -> Result<String, NotifyError> {
    channel
        .settings
        .url
        .clone()
        .ok_or_else(|| NotifyError::Permanent("the channel has no url".into()))
}

impl HttpNotifier {
    fn send_blocking(
        &self,
        channel: &Channel,
        secret: Option<String>,
        message: &Message,
        now_unix: i64,
    ) -> Result<(), NotifyError> {
        match channel.kind {
            ChannelKind::Webhook => {
                let body = serde_json::to_vec(&message.webhook_body()).unwrap_or_default();
                let secret = secret
                    .ok_or_else(|| NotifyError::Permanent("the channel has no secret".into()))?;
                let headers = [
                    ("X-Pganalytics-Timestamp", now_unix.to_string()),
                    (
                        "X-Pganalytics-Signature",
                        signature(secret.as_bytes(), now_unix, &body),
                    ),
                    ("X-Pganalytics-Idempotency-Key", message.idempotency_key()),
                ];
                post(&agent(channel)?, &need_url(channel)?, &body, &headers)
            }
            ChannelKind::Slack => {
                let url = secret.ok_or_else(|| {
                    NotifyError::Permanent("the channel has no webhook URL".into())
                })?;
                let body = serde_json::to_vec(&message.slack_body()).unwrap_or_default();
                post(&agent(channel)?, &url, &body, &[])
            }
            ChannelKind::Pagerduty => {
                let key = secret.ok_or_else(|| {
                    NotifyError::Permanent("the channel has no routing key".into())
                })?;
                let url = channel
                    .settings
                    .url
                    .clone()
                    .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.into());
                let agent = agent(channel)?;
                for event in message.pagerduty_events(&key) {
                    let body = serde_json::to_vec(&event).unwrap_or_default();
                    post(&agent, &url, &body, &[])?;
                }
                Ok(())
            }
            ChannelKind::Alertmanager => {
                let base = need_url(channel)?;
                let url = if base.trim_end_matches('/').ends_with("/api/v2/alerts") {
                    base
                } else {
                    format!("{}/api/v2/alerts", base.trim_end_matches('/'))
                };
                let body = serde_json::to_vec(&message.alertmanager_body(&self.public_url))
                    .unwrap_or_default();
                let headers: Vec<(&str, String)> = secret
                    .map(|t| vec![("Authorization", format!("Bearer {t}"))])
                    .unwrap_or_default();
                post(&agent(channel)?, &url, &body, &headers)
            }
            ChannelKind::Email => send_mail(channel, secret, message),
        }
    }
}

fn send_mail(
    channel: &Channel,
    password: Option<String>,
    message: &Message,
) -> Result<(), NotifyError> {
    let s = &channel.settings;
    let host = s
        .smtp_host
        .clone()
        .ok_or_else(|| NotifyError::Permanent("no smtp_host".into()))?;
    let bad = |e: &dyn std::fmt::Display| NotifyError::Permanent(e.to_string());
    let from: Mailbox = s
        .from
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| bad(&e))?;
    let (subject, body) = message.email();
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .message_id(Some(format!("<{}@pganalytics>", message.idempotency_key())));
    for to in &s.to {
        builder = builder.to(to.parse().map_err(|e| bad(&e))?);
    }
    let email = builder.body(body).map_err(|e| bad(&e))?;
    let mut tls = TlsParameters::builder(host.clone());
    if let Some(pem) = &s.ca_pem {
        tls = tls
            .add_root_certificate(SmtpCertificate::from_pem(pem.as_bytes()).map_err(|e| bad(&e))?);
    }
    let tls = tls.build().map_err(|e| bad(&e))?;
    let mut transport = SmtpTransport::builder_dangerous(&host)
        .port(s.smtp_port.unwrap_or(587))
        // STARTTLS is required: a relay that does not offer it gets no mail (and no password).
        .tls(Tls::Required(tls))
        .timeout(Some(TIMEOUT));
    if let (Some(user), Some(pass)) = (&s.smtp_username, password) {
        transport = transport.credentials(Credentials::new(user.clone(), pass));
    }
    transport.build().send(&email).map(drop).map_err(|e| {
        if e.is_permanent() {
            NotifyError::Permanent(format!("the mail server refused the message: {e}"))
        } else {
            NotifyError::Retry(format!("cannot deliver the mail: {e}"))
        }
    })
}

#[async_trait]
impl Notifier for HttpNotifier {
    async fn send<'a>(
        &self,
        channel: &Channel,
        secret: Option<&'a SecretString>,
        message: &Message,
    ) -> Result<(), NotifyError> {
        let channel = channel.clone();
        let secret = secret.map(|s| s.expose_secret().to_owned());
        let message = message.clone();
        let now = self.clock.now().unix_timestamp();
        let me = Self {
            clock: self.clock.clone(),
            public_url: self.public_url.clone(),
        };
        tokio::task::spawn_blocking(move || me.send_blocking(&channel, secret, &message, now))
            .await
            .map_err(|e| NotifyError::Retry(format!("the sender stopped: {e}")))?
    }
}

/// Not used by the sender: a receiver's check, for tests and for people writing receivers
/// in Rust.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature_header: &str) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let expected = signature(secret, ts, body);
    openssl::memcmp::eq(expected.as_bytes(), signature_header.as_bytes())
        && expected.len() == signature_header.len()
}
