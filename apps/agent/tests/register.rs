//! `pganalytics-agent register` against the real server over TLS.

use pganalytics_adapters::testing::TestDatabase;
use pganalytics_server::settings::Settings;
use pganalytics_server::{app, logging};
use secrecy::SecretString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

struct Server {
    url: String,
    ca_file: std::path::PathBuf,
    token: String,
    _data: tempfile::TempDir,
    _db: TestDatabase,
}

/// A server on a fresh database, and a registration token for one agent.
fn server() -> Server {
    let db = TestDatabase::create();
    let data = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_owned(),
        database_url: Some(SecretString::from(db.url.clone())),
        workers: 1,
        pool_size: 2,
        ..Settings::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let running = app::start(&settings, logging::discard()).await.unwrap();
            let token = running
                .backend
                .create_registration_token()
                .execute(1, time::Duration::minutes(10))
                .await
                .unwrap();
            tx.send((running.addr, token.secret.expose().to_owned()))
                .unwrap();
            let _ = running.server.await;
        })
    });
    let (addr, token) = rx.recv().unwrap();
    Server {
        url: format!("https://localhost:{}", addr.port()),
        ca_file: data.path().join("ca.pem"),
        token,
        _data: data,
        _db: db,
    }
}

fn register(s: &Server, state: &Path, token: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pganalytics-agent"))
        .args(["register", "--server", &s.url, "--ca-file"])
        .arg(&s.ca_file)
        .args(["--name", "db1", "--state-dir"])
        .arg(state)
        .args(extra)
        .env("PGANALYTICS_AGENT_REGISTRATION_TOKEN", token)
        .output()
        .unwrap()
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
