//! Certificate renewal against the real server, and recovery from a renewal a crash cut
//! short at either side of the request.

mod common;

use common::{Server, agent};
use pganalytics_adapters::pki;
use std::fs;
use std::path::Path;

fn run(state: &Path, command: &str) -> (bool, String) {
    let out = agent()
        .arg(command)
        .arg("--state-dir")
        .arg(state)
        // check needs a target; an unreachable one is reported, the server part still runs
        .env("PGANALYTICS_AGENT_DSN", "host=/nonexistent port=1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn server_accepts(state: &Path) -> bool {
    run(state, "check")
        .1
        .contains("the client certificate is accepted")
}

#[test]
fn renew_switches_to_a_new_key_and_an_interrupted_renewal_is_recovered() {
    let server = Server::start();
    let state = tempfile::tempdir().unwrap();
    server.register(state.path(), "db1");
    let dir = state.path().join("identity");
    let old_key = fs::read_to_string(dir.join("key.pem")).unwrap();
    let old_cert = fs::read_to_string(dir.join("cert.pem")).unwrap();

    let (ok, text) = run(state.path(), "renew");
    assert!(ok, "{text}");
    let new_key = fs::read_to_string(dir.join("key.pem")).unwrap();
    let new_cert = fs::read_to_string(dir.join("cert.pem")).unwrap();
    assert_ne!(new_key, old_key);
    assert!(pki::certificate_matches_key(&new_cert, &new_key));
    assert!(server_accepts(state.path()));

    // The answer was lost: the server switched, the agent still has its old pair and the
    // new key staged. The next start fetches the certificate issued for the staged key.
    fs::write(dir.join("key.pem.next"), &new_key).unwrap();
    fs::write(dir.join("key.pem"), &old_key).unwrap();
    fs::write(dir.join("cert.pem"), &old_cert).unwrap();
    assert!(
        server_accepts(state.path()),
        "recovered: {}",
        run(state.path(), "check").1
    );
    assert_eq!(fs::read_to_string(dir.join("key.pem")).unwrap(), new_key);
    assert!(!dir.join("key.pem.next").exists());

    // The request never arrived: the staged key is dropped, the current pair stays.
    let (unused, _) = pki::new_key_and_csr("db1").unwrap();
    fs::write(dir.join("key.pem.next"), unused).unwrap();
    assert!(server_accepts(state.path()));
    assert!(!dir.join("key.pem.next").exists());
    assert_eq!(fs::read_to_string(dir.join("key.pem")).unwrap(), new_key);
}
