//! `pganalytics-agent register` against the real server over TLS.

mod common;

use common::{Server, register};
use std::os::unix::fs::PermissionsExt;

fn server() -> Server {
    Server::start()
}

#[test]
fn register_keeps_a_private_key_and_stores_a_certificate_for_it() {
    let s = server();
    let state = tempfile::tempdir().unwrap();
    let out = register(&s, state.path(), &s.token, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let dir = state.path().join("identity");
    let key = std::fs::read_to_string(dir.join("key.pem")).unwrap();
    let cert = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8, as native-tls needs"
    );
    assert_eq!(
        std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join("token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(pganalytics_adapters::pki::certificate_matches_key(
        &cert, &key
    ));
    assert_eq!(
        pganalytics_adapters::pki::common_name(&cert).as_deref(),
        Some(id.as_str())
    );
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("collector.json")).unwrap()).unwrap();
    assert_eq!(identity["collector_id"], id.as_str());
    assert!(!dir.join("key.pem.new").exists());

    // An existing identity is not replaced by accident.
    let again = register(&s, state.path(), &s.token, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn a_refused_registration_says_why_and_stores_no_identity() {
    let s = server();
    let state = tempfile::tempdir().unwrap();
    let out = register(
        &s,
        state.path(),
        "pgar_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid_registration_token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!state.path().join("identity/collector.json").exists());
    assert!(!state.path().join("identity/cert.pem").exists());
    assert!(
        !state.path().join("identity/key.pem.new").exists(),
        "the unused key was removed"
    );
}
