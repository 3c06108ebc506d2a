//! Certificate renewal: when less than a third of the certificate's life is left, the agent
//! makes a new key, sends a CSR over mTLS with its current certificate, and switches to the
//! new pair. Crash-safe: the new key is on disk (`key.pem.next`) before the request goes
//! out, and `recover` finishes an interrupted renewal at the next start, fetching the
//! certificate the server issued (certificates are public) when the answer was lost.

use anyhow::{Context as _, bail};
use pganalytics_adapters::fs::write_atomic;
use pganalytics_adapters::{http, pki};
use pganalytics_ports::transport::Transport;
use std::fs;
use std::path::Path;

use crate::identity::Identity;

const KEY: &str = "key.pem";
const CERT: &str = "cert.pem";
const NEXT_KEY: &str = "key.pem.next";
const NEXT_CERT: &str = "cert.pem.next";

/// Whether the identity's certificate is in the last third of its life at `now`.
pub fn due(identity: &Identity, now: time::OffsetDateTime) -> bool {
    pki::validity(&identity.cert_pem)
        .is_some_and(|(from, to)| pganalytics_domain::credentials::renewal_due(from, to, now))
}

fn read(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name)).ok()
}

/// Moves the staged pair into place: the certificate last, so that a crash in between
/// leaves a new key whose certificate `recover` still finds staged.
fn install(dir: &Path) -> anyhow::Result<()> {
    if dir.join(NEXT_KEY).exists() {
        fs::rename(dir.join(NEXT_KEY), dir.join(KEY)).context("installing the new key")?;
    }
    fs::rename(dir.join(NEXT_CERT), dir.join(CERT)).context("installing the new certificate")?;
    Ok(())
}

/// Finishes or undoes a renewal a crash interrupted. Does nothing when none is pending.
pub fn recover(state_dir: &Path, server_url: Option<&str>) -> anyhow::Result<()> {
    let dir = Identity::dir_in(state_dir);
    let next_key = read(&dir, NEXT_KEY);
    let next_cert = read(&dir, NEXT_CERT);
    let key = read(&dir, KEY).unwrap_or_default();
    match (&next_key, &next_cert) {
        (Some(k), Some(c)) if pki::certificate_matches_key(c, k) => return install(&dir),
        (_, Some(c)) if pki::certificate_matches_key(c, &key) => return install(&dir),
        (None, _) => {
            let _ = fs::remove_file(dir.join(NEXT_CERT));
            return Ok(());
        }
        _ => {}
    }
    // A new key and no certificate for it here: ask the server which key it certified.
    let next_key = next_key.unwrap_or_default();
    let identity = Identity::load(state_dir)?;
    let url = server_url.unwrap_or(&identity.server_url);
    let current =
        http::current_certificate(url, &identity.ca_pem, &identity.collector_id.to_string())
            .context("an interrupted certificate renewal needs the server to finish")?;
    if pki::certificate_matches_key(&current, &next_key) {
        write_atomic(&dir.join(NEXT_CERT), current.as_bytes(), 0o644)?;
        install(&dir)
    } else if pki::certificate_matches_key(&current, &key) {
        // The renewal never reached the server: the old pair is still the one.
        fs::remove_file(dir.join(NEXT_KEY)).context("removing an unused key")
    } else {
        bail!(
            "the server's certificate for this collector matches neither of its keys; register \
             the agent again (pganalytics-agent register --force)"
        )
    }
}

/// Renews now and switches `transport` to the new certificate; returns the identity with it.
pub fn renew(transport: &dyn Transport, state_dir: &Path) -> anyhow::Result<Identity> {
    let dir = Identity::dir_in(state_dir);
    let id = Identity::load(state_dir)?.collector_id.to_string();
    let (key_pem, csr_pem) = pki::new_key_and_csr(&id)?;
    write_atomic(&dir.join(NEXT_KEY), key_pem.as_bytes(), 0o600)?;
    let cert = match transport.renew_certificate(&csr_pem) {
        Ok(cert) => cert,
        Err(e) if e.status().is_some() => {
            // A definite no: the new key is of no use.
            let _ = fs::remove_file(dir.join(NEXT_KEY));
            return Err(e.into());
        }
        // No answer: the server may or may not have issued it; recover() decides.
        Err(e) => return Err(anyhow::Error::from(e).context("renewal answer lost; will recover")),
    };
    if !pki::certificate_matches_key(&cert, &key_pem)
        || pki::common_name(&cert).as_deref() != Some(id.as_str())
    {
        bail!("the server returned a certificate for another key or collector");
    }
    write_atomic(&dir.join(NEXT_CERT), cert.as_bytes(), 0o644)?;
    install(&dir)?;
    let renewed = Identity::load(state_dir)?;
    transport.use_certificate(&renewed.cert_pem, &renewed.key_pem)?;
    Ok(renewed)
}
