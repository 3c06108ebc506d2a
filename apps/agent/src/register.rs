//! `pganalytics-agent register`: enrolment with a server.
//!
//! The key is made here and written 0600 before anything is sent; the server only ever
//! sees the CSR. What comes back is checked (the certificate carries our public key and
//! names the collector id) before it is stored.

use anyhow::{Context as _, bail};
use pganalytics_adapters::fs::write_atomic;
use pganalytics_adapters::{http, pki};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::fs;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's base URL, e.g. https://monitor.example.com:8443
    #[arg(long, env = "PGANALYTICS_AGENT_SERVER_URL")]
    server: String,
    /// A registration token from `pganalytics-server registration-token create`
    /// (prefer the environment variable: arguments show in `ps`).
    #[arg(
        long,
        env = "PGANALYTICS_AGENT_REGISTRATION_TOKEN",
        hide_env_values = true
    )]
    token: SecretString,
    /// The server's CA certificate (its `ca.pem`), needed for this first contact only.
    #[arg(long)]
    ca_file: std::path::PathBuf,
    /// The collector's name; default: this host's name.
    #[arg(long)]
    name: Option<String>,
    /// Replace an existing identity in the state directory.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Serialize)]
struct Identity<'a> {
    collector_id: &'a str,
    name: &'a str,
    hostname: &'a str,
    server_url: &'a str,
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

pub fn run(state_dir: &Path, args: Args) -> anyhow::Result<()> {
    let dir = state_dir.join("identity");
    if dir.join("collector.json").exists() && !args.force {
        bail!(
            "{} already holds an identity; pass --force to enrol again",
            dir.display()
        );
    }
    let ca_pem = fs::read_to_string(&args.ca_file)
        .with_context(|| format!("reading {}", args.ca_file.display()))?;
    let host = hostname();
    let name = args.name.unwrap_or_else(|| host.clone());
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let (key_pem, csr_pem) = pki::new_key_and_csr(&name)?;
    let staged_key = dir.join("key.pem.new");
    write_atomic(&staged_key, key_pem.as_bytes(), 0o600)?;
    let who = Who {
        server: &args.server,
        token: args.token.expose_secret(),
        name: &name,
        host: &host,
        ca_pem: &ca_pem,
    };
    let result = enrol_and_store(&dir, &staged_key, &key_pem, &csr_pem, &who);
    if result.is_err() {
        // A key that got no certificate is useless; leave nothing half-done behind.
        let _ = fs::remove_file(&staged_key);
    }
    result
}

/// Who enrols where.
struct Who<'a> {
    server: &'a str,
    token: &'a str,
    name: &'a str,
    host: &'a str,
    ca_pem: &'a str,
}

fn enrol_and_store(
    dir: &Path,
    staged_key: &Path,
    key_pem: &str,
    csr_pem: &str,
    who: &Who<'_>,
) -> anyhow::Result<()> {
    let enrolment = http::enrol(
        who.server, who.ca_pem, who.token, who.name, who.host, csr_pem,
    )?;

    if !pki::certificate_matches_key(&enrolment.certificate, key_pem) {
        bail!("the server returned a certificate for another key; nothing was stored");
    }
    if pki::common_name(&enrolment.certificate).as_deref() != Some(enrolment.collector_id.as_str())
    {
        bail!(
            "the certificate does not name collector {}; nothing was stored",
            enrolment.collector_id
        );
    }
    write_atomic(
        &dir.join("cert.pem"),
        enrolment.certificate.as_bytes(),
        0o644,
    )?;
    write_atomic(
        &dir.join("ca.pem"),
        enrolment.ca_certificate.as_bytes(),
        0o644,
    )?;
    write_atomic(&dir.join("token"), enrolment.token.as_bytes(), 0o600)?;
    fs::rename(staged_key, dir.join("key.pem")).context("storing the key")?;
    let identity = Identity {
        collector_id: &enrolment.collector_id,
        name: who.name,
        hostname: who.host,
        server_url: who.server,
    };
    write_atomic(
        &dir.join("collector.json"),
        &serde_json::to_vec_pretty(&identity)?,
        0o644,
    )?;
    println!("{}", enrolment.collector_id);
    eprintln!(
        "registered as collector {} ({}); identity in {}",
        enrolment.collector_id,
        who.name,
        dir.display()
    );
    Ok(())
}
