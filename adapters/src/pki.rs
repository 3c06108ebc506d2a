//! The server's own certificate authority, with OpenSSL.
//!
//! - The CA (EC P-256, 10 years) is created on first start in the data directory:
//!   `ca.pem` (world-readable, for `curl --cacert` and agents) and `ca.key` (0600).
//! - Collectors send a CSR; we verify its self-signature (proof of key possession), refuse
//!   weak keys, and issue a client certificate: CN = collector id, clientAuth only,
//!   90 days. The collector's private key never reaches the server.
//! - The server's own TLS certificate is issued by the same CA for its host names and
//!   renewed when less than a third of its life is left.
//! - Issued certificates are read back with `x509-cert` (serial, expiry, fingerprint), the
//!   same parser the agent uses, so both sides agree on what a certificate says.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder, X509Req};
use pganalytics_domain::collector::{CertificateInfo, CollectorId};
use pganalytics_domain::credentials::Fingerprint;
use pganalytics_ports::crypto::{
    CertificateAuthority, IssuedCertificate, PkiError, ServerIdentity,
};
use std::fs;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_cert::der::{DecodePem, Encode};

pub const COLLECTOR_CERT_LIFETIME: Duration = Duration::days(90);
const CA_LIFETIME: Duration = Duration::days(3650);
const SERVER_CERT_LIFETIME: Duration = Duration::days(365);
/// Certificates are back-dated a little so a client whose clock is slightly behind accepts them.
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum PkiSetupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("{path} holds an unusable certificate or key: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiSetupError + '_ {
    move |source| PkiSetupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The CA key pair and certificate, kept in a directory (the server's data directory) or
/// only in memory ([`OpensslCa::ephemeral`]).
pub struct OpensslCa {
    cert: X509,
    key: PKey<Private>,
    cert_pem: String,
    /// Where the CA and the server's TLS identity are kept; `None` in memory.
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for OpensslCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpensslCa")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

/// Writes a key or certificate with [`crate::fs::write_atomic`].
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiSetupError> {
    crate::fs::write_atomic(path, data, mode).map_err(io(path))
}

fn new_ec_key() -> Result<PKey<Private>, PkiSetupError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn asn1_time(t: OffsetDateTime) -> Result<Asn1Time, openssl::error::ErrorStack> {
    Asn1Time::from_unix(t.unix_timestamp())
}

fn random_serial() -> Result<Asn1Integer, openssl::error::ErrorStack> {
    // 127 random bits, positive: RFC 5280 allows up to 20 octets and asks for unpredictability.
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

fn name(cn: &str, org: &str) -> Result<openssl::x509::X509Name, openssl::error::ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, org)?;
    b.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(b.build())
}

impl OpensslCa {
    /// Loads `ca.pem` + `ca.key` from `dir`, or creates them there.
    pub fn load_or_create(dir: &Path, now: OffsetDateTime) -> Result<Self, PkiSetupError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert_path.exists() && key_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let cert = X509::from_pem(cert_pem.as_bytes())?;
            let key = PKey::private_key_from_pem(&fs::read(&key_path).map_err(io(&key_path))?)?;
            if !cert.public_key()?.public_eq(&key) {
                return Err(PkiSetupError::Invalid {
                    path: key_path,
                    reason: "the key does not match ca.pem".into(),
                });
            }
            return Ok(Self {
                cert,
                key,
                cert_pem,
                dir: Some(dir.to_owned()),
            });
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut ca = Self::ephemeral(now)?;
        write_file(&key_path, &ca.key.private_key_to_pem_pkcs8()?, 0o600)?;
        write_file(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
        ca.dir = Some(dir.to_owned());
        Ok(ca)
    }

    /// A new CA that lives in memory only: for the memory backend and tests.
    pub fn ephemeral(now: OffsetDateTime) -> Result<Self, PkiSetupError> {
        let key = new_ec_key()?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(random_serial()?.as_ref())?;
        let subject = name("pgAnalytics CA", "pgAnalytics")?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(&subject)?;
        b.set_pubkey(&key)?;
        b.set_not_before(asn1_time(now - CLOCK_SKEW)?.as_ref())?;
        b.set_not_after(asn1_time(now + CA_LIFETIME)?.as_ref())?;
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&key, MessageDigest::sha256())?;
        let cert = b.build();
        let cert_pem = String::from_utf8(cert.to_pem()?).unwrap_or_default();
        Ok(Self {
            cert,
            key,
            cert_pem,
            dir: None,
        })
    }

    /// The server's TLS certificate and key (PEM) for `names` (DNS names or IP addresses):
    /// from `server.pem`/`server.key` in the CA's directory when still good, else freshly
    /// issued (and kept there, when the CA has a directory).
    fn tls_identity(
        &self,
        names: &[String],
        now: OffsetDateTime,
    ) -> Result<(String, String), PkiSetupError> {
        let paths = self
            .dir
            .as_ref()
            .map(|d| (d.join("server.pem"), d.join("server.key")));
        if let Some((cert_path, key_path)) = &paths
            && let (Ok(cert_pem), Ok(key_pem)) =
                (fs::read_to_string(cert_path), fs::read_to_string(key_path))
            && self.server_cert_still_good(&cert_pem, names, now)
        {
            return Ok((cert_pem, key_pem));
        }
        let key = new_ec_key()?;
        let subject = name(
            names.first().map_or("localhost", String::as_str),
            "pgAnalytics server",
        )?;
        let mut b = self.leaf_builder(&subject, &key, now, SERVER_CERT_LIFETIME)?;
        let mut san = SubjectAlternativeName::new();
        for n in names {
            if n.parse::<std::net::IpAddr>().is_ok() {
                san.ip(n);
            } else {
                san.dns(n);
            }
        }
        let san = san.build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(san)?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        let cert_pem = String::from_utf8(b.build().to_pem()?).unwrap_or_default();
        let key_pem = String::from_utf8(key.private_key_to_pem_pkcs8()?).unwrap_or_default();
        if let Some((cert_path, key_path)) = &paths {
            write_file(key_path, key_pem.as_bytes(), 0o600)?;
            write_file(cert_path, cert_pem.as_bytes(), 0o644)?;
        }
        Ok((cert_pem, key_pem))
    }

    fn server_cert_still_good(&self, pem: &str, names: &[String], now: OffsetDateTime) -> bool {
        let Ok(cert) = X509::from_pem(pem.as_bytes()) else {
            return false;
        };
        let issued_by_us = self
            .cert
            .public_key()
            .and_then(|ca| cert.verify(&ca))
            .unwrap_or(false);
        let sans: Vec<String> = cert
            .subject_alt_names()
            .map(|s| {
                s.iter()
                    .filter_map(|n| {
                        n.dnsname()
                            .map(str::to_owned)
                            .or_else(|| n.ipaddress().map(ip_to_string))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let covers = names.iter().all(|n| sans.contains(n));
        let Ok(info) = parse_certificate(pem) else {
            return false;
        };
        issued_by_us && covers && info.not_after - now > SERVER_CERT_LIFETIME / 3
    }

    fn leaf_builder(
        &self,
        subject: &openssl::x509::X509NameRef,
        key: &PKeyRef<impl openssl::pkey::HasPublic>,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<X509Builder, openssl::error::ErrorStack> {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(random_serial()?.as_ref())?;
        b.set_subject_name(subject)?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.set_pubkey(key)?;
        b.set_not_before(asn1_time(now - CLOCK_SKEW)?.as_ref())?;
        b.set_not_after(asn1_time(now + lifetime)?.as_ref())?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        Ok(b)
    }
}

fn ip_to_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => String::new(),
    }
}

/// Refuses keys too weak for a credential that lives 90 days.
fn check_key_strength(key: &PKeyRef<Public>) -> Result<(), PkiError> {
    let ok = match key.id() {
        Id::EC => key.bits() >= 256,
        Id::RSA => key.bits() >= 2048,
        Id::ED25519 => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidCsr(format!(
            "a {}-bit {:?} key is not accepted; use EC P-256 or RSA ≥ 2048",
            key.bits(),
            key.id()
        )))
    }
}

impl CertificateAuthority for OpensslCa {
    fn sign_collector_csr(
        &self,
        csr_pem: &str,
        collector: CollectorId,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let invalid = |what: &str| PkiError::InvalidCsr(what.to_owned());
        if csr_pem.len() > 16 * 1024 {
            return Err(invalid("it is larger than 16 KiB"));
        }
        let req = X509Req::from_pem(csr_pem.as_bytes())
            .map_err(|_| invalid("it is not a PEM-encoded PKCS#10 request"))?;
        let key = req
            .public_key()
            .map_err(|_| invalid("its public key cannot be read"))?;
        if !req.verify(&key).unwrap_or(false) {
            return Err(invalid(
                "its signature does not verify (it must be signed by the key it carries)",
            ));
        }
        check_key_strength(&key)?;
        let internal = |e: openssl::error::ErrorStack| PkiError::Internal(Box::new(e));
        let subject = name(&collector.to_string(), "pgAnalytics collector").map_err(internal)?;
        let mut b = self
            .leaf_builder(&subject, &key, now, COLLECTOR_CERT_LIFETIME)
            .map_err(internal)?;
        b.append_extension(
            ExtendedKeyUsage::new()
                .client_auth()
                .build()
                .map_err(internal)?,
        )
        .map_err(internal)?;
        b.sign(&self.key, MessageDigest::sha256())
            .map_err(internal)?;
        let pem = String::from_utf8(b.build().to_pem().map_err(internal)?)
            .map_err(|e| PkiError::Internal(Box::new(e)))?;
        let info = parse_certificate(&pem).map_err(|e| PkiError::Internal(e.into()))?;
        Ok(IssuedCertificate { pem, info })
    }

    fn ca_certificate_pem(&self) -> String {
        self.cert_pem.clone()
    }

    fn server_identity(
        &self,
        names: &[String],
        now: OffsetDateTime,
    ) -> Result<ServerIdentity, PkiError> {
        let (certificate_pem, key_pem) = self
            .tls_identity(names, now)
            .map_err(|e| PkiError::Internal(Box::new(e)))?;
        Ok(ServerIdentity {
            certificate_pem,
            key_pem: key_pem.into(),
        })
    }
}

/// Serial, expiry and SHA-256 fingerprint of a PEM certificate, read with `x509-cert`.
pub fn parse_certificate(pem: &str) -> Result<CertificateInfo, String> {
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let der = cert.to_der().map_err(|e| e.to_string())?;
    let tbs = cert.tbs_certificate();
    let secs = tbs.validity().not_after.to_unix_duration().as_secs();
    let not_after =
        OffsetDateTime::from_unix_timestamp(i64::try_from(secs).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let serial = tbs
        .serial_number()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(CertificateInfo {
        fingerprint: Fingerprint::of_der(&der),
        serial,
        not_after,
        pem: pem.to_owned(),
    })
}

/// A PEM certificate's validity (not before, not after), read with `x509-cert`.
pub fn validity(pem: &str) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).ok()?;
    let v = cert.tbs_certificate().validity();
    let at = |t: x509_cert::time::Time| {
        let secs = i64::try_from(t.to_unix_duration().as_secs()).ok()?;
        OffsetDateTime::from_unix_timestamp(secs).ok()
    };
    Some((at(v.not_before)?, at(v.not_after)?))
}

/// The common name of a PEM certificate's subject, read with `x509-cert`.
pub fn common_name(pem: &str) -> Option<String> {
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).ok()?;
    cert.tbs_certificate()
        .subject()
        .common_name()
        .ok()
        .flatten()
        .map(|cn| cn.value().into_owned())
}

/// Whether the certificate carries the public half of `key_pem`: an agent checks this before
/// trusting what the server sent back.
pub fn certificate_matches_key(cert_pem: &str, key_pem: &str) -> bool {
    let (Ok(cert), Ok(key)) = (
        X509::from_pem(cert_pem.as_bytes()),
        PKey::private_key_from_pem(key_pem.as_bytes()),
    ) else {
        return false;
    };
    cert.public_key().is_ok_and(|p| p.public_eq(&key))
}

/// A new P-256 key (PKCS#8 PEM) and a CSR for it: what an agent does before registering.
pub fn new_key_and_csr(cn: &str) -> Result<(String, String), PkiSetupError> {
    let key = new_ec_key()?;
    let mut req = openssl::x509::X509ReqBuilder::new()?;
    req.set_subject_name(name(cn, "pgAnalytics collector")?.as_ref())?;
    req.set_pubkey(&key)?;
    req.sign(&key, MessageDigest::sha256())?;
    let key_pem = String::from_utf8(key.private_key_to_pem_pkcs8()?).unwrap_or_default();
    let csr_pem = String::from_utf8(req.build().to_pem()?).unwrap_or_default();
    Ok((key_pem, csr_pem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
    }

    #[test]
    fn the_ca_is_created_once_with_a_private_key_file_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OpensslCa::load_or_create(dir.path(), now()).unwrap();
        let mode = fs::metadata(dir.path().join("ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let again = OpensslCa::load_or_create(dir.path(), now()).unwrap();
        assert_eq!(ca.ca_certificate_pem(), again.ca_certificate_pem());
    }

    #[test]
    fn a_csr_becomes_a_90_day_client_certificate_for_the_collector_signed_by_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OpensslCa::load_or_create(dir.path(), now()).unwrap();
        let (_key, csr) = new_key_and_csr("db1").unwrap();
        let id = CollectorId::from_uuid(uuid::Uuid::new_v4());
        let issued = ca.sign_collector_csr(&csr, id, now()).unwrap();
        assert_eq!(
            common_name(&issued.pem).as_deref(),
            Some(id.to_string().as_str())
        );
        assert_eq!(issued.info.not_after, now() + COLLECTOR_CERT_LIFETIME);
        let cert = X509::from_pem(issued.pem.as_bytes()).unwrap();
        assert!(cert.verify(&ca.cert.public_key().unwrap()).unwrap());
        assert_eq!(
            issued.info.fingerprint,
            Fingerprint::of_der(&cert.to_der().unwrap())
        );
        let text = String::from_utf8(cert.to_text().unwrap()).unwrap();
        assert!(
            text.contains("TLS Web Client Authentication")
                && !text.contains("Server Authentication"),
            "{text}"
        );
    }

    #[test]
    fn garbage_tampered_and_weak_csrs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OpensslCa::load_or_create(dir.path(), now()).unwrap();
        let id = CollectorId::from_uuid(uuid::Uuid::new_v4());
        assert!(matches!(
            ca.sign_collector_csr("hello", id, now()),
            Err(PkiError::InvalidCsr(_))
        ));

        // A CSR whose public key was swapped after signing: signature no longer verifies.
        let (_k, csr) = new_key_and_csr("db1").unwrap();
        let other = new_ec_key().unwrap();
        let mut req = X509Req::from_pem(csr.as_bytes()).unwrap();
        let mut b = openssl::x509::X509ReqBuilder::new().unwrap();
        b.set_subject_name(req.subject_name()).unwrap();
        b.set_pubkey(&other).unwrap();
        b.sign(&new_ec_key().unwrap(), MessageDigest::sha256())
            .unwrap();
        req = b.build();
        let forged = String::from_utf8(req.to_pem().unwrap()).unwrap();
        assert!(matches!(
            ca.sign_collector_csr(&forged, id, now()),
            Err(PkiError::InvalidCsr(_))
        ));

        let weak = PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
        let mut b = openssl::x509::X509ReqBuilder::new().unwrap();
        b.set_pubkey(&weak).unwrap();
        b.sign(&weak, MessageDigest::sha256()).unwrap();
        let weak_csr = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        assert!(matches!(
            ca.sign_collector_csr(&weak_csr, id, now()),
            Err(PkiError::InvalidCsr(_))
        ));
    }

    #[test]
    fn the_server_certificate_is_reused_while_good_and_reissued_for_new_names() {
        let dir = tempfile::tempdir().unwrap();
        let ca = OpensslCa::load_or_create(dir.path(), now()).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (c1, _) = ca.tls_identity(&names, now()).unwrap();
        let (c2, _) = ca.tls_identity(&names, now()).unwrap();
        assert_eq!(c1, c2);
        let (c3, _) = ca.tls_identity(&["db.example".to_owned()], now()).unwrap();
        assert_ne!(c1, c3);
        // In memory, nothing is written and each identity is new.
        let mem = OpensslCa::ephemeral(now()).unwrap();
        let (m1, _) = mem.tls_identity(&names, now()).unwrap();
        assert_ne!(m1, mem.tls_identity(&names, now()).unwrap().0);
        assert!(
            X509::from_pem(m1.as_bytes())
                .unwrap()
                .verify(&mem.cert.public_key().unwrap())
                .unwrap()
        );
    }
}
