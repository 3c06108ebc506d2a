//! Any text offered as a CSR at enrolment or renewal, and as a certificate where the agent
//! reads one: refused or signed, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pganalytics_adapters::pki::{OpensslCa, common_name, parse_certificate, validity};
use pganalytics_domain::collector::CollectorId;
use pganalytics_ports::crypto::CertificateAuthority;
use std::sync::LazyLock;

static CA: LazyLock<OpensslCa> =
    LazyLock::new(|| OpensslCa::ephemeral(time::OffsetDateTime::now_utc()).unwrap());

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let now = time::OffsetDateTime::now_utc();
    let _ = CA.sign_collector_csr(&text, CollectorId::from_uuid(uuid::Uuid::from_u128(1)), now);
    let _ = parse_certificate(&text);
    let _ = validity(&text);
    let _ = common_name(&text);
});
