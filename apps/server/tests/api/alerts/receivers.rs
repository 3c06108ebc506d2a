//! Real receivers beside the test HTTP listener: a local SMTP server (aiosmtpd, STARTTLS
//! required) and Prometheus Alertmanager from Debian's package.

use pganalytics_adapters::test_clusters::python_tool;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// A process killed when the test ends.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A self-signed certificate for `localhost` (PEM certificate and key files).
fn localhost_certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("smtp.crt"), dir.join("smtp.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

fn admin(app: &TestApp) -> String {
    format!("Bearer {}", app.api_token)
}

fn test_and_send(app: &TestApp, channel: &str) {
    let h = admin(app);
    let r = app.call(
        "POST",
        &format!("/api/v1/notification-channels/{channel}/test"),
        Some(("Authorization", &h)),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let report = app
        .server
        .run(|uc, _| async move { uc.notify.run_once().await.unwrap() });
    let log = app.call(
        "GET",
        &format!("/api/v1/notification-channels/{channel}/deliveries"),
        Some(("Authorization", &h)),
        None,
    );
    assert_eq!(report.delivered, 1, "{report:?}: {}", log.body);
}

#[test]
fn mail_goes_out_over_starttls_to_a_real_smtp_server() {
    let app = TestApp::spawn(On::Memory);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = localhost_certificate(dir.path());
    let maildir = dir.path().join("mail");
    let port = free_port();
    let smtpd = python_tool("aiosmtpd==1.4.6", "aiosmtpd");
    let _server = Killed(
        Command::new(smtpd)
            .args([
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg("--tlscert")
            .arg(&cert)
            .arg("--tlskey")
            .arg(&key)
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("aiosmtpd", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let h = admin(&app);
    let body = json!({
        "name": "dba-mail", "kind": "email",
        "settings": {"smtp_host": "localhost", "smtp_port": port, "smtp_username": "alerts",
                     "from": "pganalytics@example.com", "to": ["dba@example.com"],
                     "ca_pem": std::fs::read_to_string(&cert).unwrap()},
        "route": {"min_severity": "info", "group_wait": "0s"},
    });
    let r = app.call(
        "POST",
        "/api/v1/notification-channels",
        Some(("Authorization", &h)),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    test_and_send(&app, r.body["id"].as_str().unwrap());
    let new = maildir.join("new");
    let mails: Vec<_> = std::fs::read_dir(&new)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mails.len(), 1, "one mail");
    let text = std::fs::read_to_string(&mails[0]).unwrap();
    assert!(text.contains("To: dba@example.com"), "{text}");
    assert!(
        text.contains("Subject: [FIRING:INFO] Test notification from pgAnalytics"),
        "{text}"
    );
    // aiosmtpd refuses mail before STARTTLS (`--no-requiretls` is not given): getting it means
    // the message went over TLS, verified against the channel's CA.
}

#[test]
fn an_alert_reaches_a_real_alertmanager() {
    let bin = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("Prometheus Alertmanager is not installed. Fix: apt-get install prometheus-alertmanager (.ci/run does)");
    let app = TestApp::spawn(On::Memory);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
    )
    .unwrap();
    let port = free_port();
    let _am = Killed(
        Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let am = format!("http://127.0.0.1:{port}");
    let client = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let alerts = || -> Vec<Value> {
        client
            .get(&format!("{am}/api/v2/alerts"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Vec<Value>>().ok())
            .unwrap_or_default()
    };
    wait_for("alertmanager", || {
        client
            .get(&format!("{am}/-/ready"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });

    let h = admin(&app);
    let body = json!({"name": "am", "kind": "alertmanager", "settings": {"url": am}, "route": {"min_severity": "info", "group_wait": "0s"}});
    let r = app.call(
        "POST",
        "/api/v1/notification-channels",
        Some(("Authorization", &h)),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    test_and_send(&app, r.body["id"].as_str().unwrap());
    let got = alerts();
    let test = got
        .iter()
        .find(|a| a["labels"]["alertname"] == "pganalytics_channel_test")
        .unwrap_or_else(|| panic!("not in Alertmanager: {got:?}"));
    assert_eq!(test["labels"]["severity"], "info");
    assert_eq!(test["status"]["state"], "active");
    assert!(
        test["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("Test notification")
    );
}
