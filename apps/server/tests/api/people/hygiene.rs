use serde_json::json;

use crate::helpers::{TestApp, api_tests};

api_tests! {
    fn rate_limits_answer_with_headers_then_429_and_retry_after_per_budget(on) {
        let app = TestApp::spawn_with(on, |s| {
            s.rate_people_per_second = 1;
            s.rate_people_burst = 3;
        });
        let t = app.api_token.clone();
        let get = || app.call("GET", "/api/v1/servers", Some(("X-API-Key", &t)), None);
        let first = get();
        assert_eq!(first.status, 200);
        assert_eq!(first.headers["x-ratelimit-limit"], "3");
        assert_eq!(first.headers["x-ratelimit-remaining"], "2");
        get();
        get();
        let refused = get();
        assert_eq!(
            (refused.status, refused.body["error"]["code"].as_str()),
            (429, Some("rate_limited"))
        );
        assert_eq!(refused.headers["x-ratelimit-remaining"], "0");
        assert!(
            refused.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );

        // The collectors' budget is separate: a registered agent still pushes.
        let app2 = TestApp::spawn_with(on, |s| {
            s.rate_people_per_second = 1;
            s.rate_people_burst = 1;
        });
        let c = app2.register("busy");
        for _ in 0..3 {
            app2.call("GET", "/api/v1/openapi.json", None, None);
        }
        assert_eq!(
            app2.call("GET", "/api/v1/openapi.json", None, None).status,
            429
        );
        // The health check is exempt (issue 11): a flooding address cannot make it fail.
        let health = app2.call("GET", "/api/v1/health", None, None);
        assert_eq!(health.status, 200, "{}", health.body);
        assert_eq!(
            app2.push_example(&c).status,
            200,
            "ingest has its own budget"
        );
    }
}

api_tests! {
    fn every_answer_has_a_request_id_and_security_headers(on) {
        let app = TestApp::spawn(on);
        let r = app.call(
            "GET",
            "/api/v1/health",
            Some(("X-Request-Id", "trace-abc-123")),
            None,
        );
        assert_eq!(r.headers["x-request-id"], "trace-abc-123");
        let r = app.call(
            "GET",
            "/api/v1/nope",
            Some(("X-Request-Id", "bad id with spaces")),
            None,
        );
        assert_eq!(r.status, 404);
        let id = r.headers["x-request-id"].to_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "a fresh id replaces an unsafe one: {id}"
        );
        for h in [
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
            "referrer-policy",
        ] {
            assert!(r.headers.contains_key(h), "{h}");
        }
        // CORS is off by default: no Access-Control-Allow-Origin for a foreign origin.
        let r = app.call(
            "GET",
            "/api/v1/health",
            Some(("Origin", "https://evil.example")),
            None,
        );
        assert!(!r.headers.contains_key("access-control-allow-origin"));
    }
}

api_tests! {
    fn cors_allows_only_the_configured_origins(on) {
        let app = TestApp::spawn_with(on, |s| {
            s.cors_allowed_origins = vec!["https://grafana.example.com".into()]
        });
        let ok = app.call(
            "GET",
            "/api/v1/health",
            Some(("Origin", "https://grafana.example.com")),
            None,
        );
        assert_eq!(
            ok.headers["access-control-allow-origin"],
            "https://grafana.example.com"
        );
        let other = app.call(
            "GET",
            "/api/v1/health",
            Some(("Origin", "https://evil.example")),
            None,
        );
        assert!(!other.headers.contains_key("access-control-allow-origin"));
    }
}

api_tests! {
    fn bodies_must_be_json_shallow_small_and_without_unknown_fields(on) {
        let app = TestApp::spawn(on);
        let admin = app.admin_session();
        let auth = format!("Bearer {admin}");
        let post = |ct: &str, body: Vec<u8>| {
            crate::helpers::reply(
                app.client()
                    .post(&app.url("/api/v1/users"))
                    .header("Authorization", &auth)
                    .header("Content-Type", ct)
                    .send(&body[..]),
            )
        };
        let form = post(
            "application/x-www-form-urlencoded",
            b"username=x&role=viewer".to_vec(),
        );
        assert_eq!(
            (form.status, form.body["error"]["code"].as_str()),
            (415, Some("unsupported_media_type"))
        );
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let r = post("application/json", deep.into_bytes());
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("json_too_deep"))
        );
        let big = post("application/json", vec![b' '; 200 * 1024]);
        assert_eq!(big.status, 413);
        let extra = post(
            "application/json",
            serde_json::to_vec(&json!({ "username": "x1", "role": "viewer", "admin": true })).unwrap(),
        );
        assert_eq!(
            (extra.status, extra.body["error"]["code"].as_str()),
            (400, Some("malformed_json"))
        );
        assert_eq!(
            app.user_count(),
            1,
            "nothing partial was stored"
        );
    }
}

/// A TLS connection that sends a request head announcing a `length`-byte body, for tests
/// of clients that then send the body slowly or not at all.
fn slow_request(app: &TestApp, length: usize) -> openssl::ssl::SslStream<std::net::TcpStream> {
    use openssl::ssl::{SslConnector, SslMethod};
    use std::io::Write;
    let mut tls = SslConnector::builder(SslMethod::tls_client()).unwrap();
    let ca = openssl::x509::X509::from_pem(app.ca_pem().as_bytes()).unwrap();
    tls.cert_store_mut().add_cert(ca).unwrap();
    let port = app.server.addr().port();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The deadline for the server's answer.
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut s = tls.build().connect("localhost", tcp).unwrap();
    write!(
        s,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{"
    )
    .unwrap();
    s.flush().unwrap();
    s
}

/// What the server answered on `s`, until it closed the connection or the read deadline.
fn answer(s: &mut openssl::ssl::SslStream<std::net::TcpStream>) -> String {
    use std::io::Read;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

api_tests! {
    fn a_body_that_stalls_or_dribbles_is_cut_with_408(on) {
        // Issue 11, finding 5: a client sending a body byte every few seconds held its
        // connection for minutes. Now a body that stops, or arrives slower than the
        // minimum rate after its grace period, gets 408 body_timeout.
        let app = TestApp::spawn_with(on, |s| {
            s.body_timeout_seconds = 1;
            s.body_min_bytes_per_second = 100;
        });
        // Stalls after its first byte.
        let mut stalled = slow_request(&app, 1000);
        let a = answer(&mut stalled);
        assert!(a.starts_with("HTTP/1.1 408"), "{a}");
        assert!(a.contains("body_timeout"), "{a}");

        // Dribbles: a byte every 50 ms (20 B/s) never stalls for a second, but averages
        // well under 100 B/s; its 1,000 bytes would take 50 s. The answer must come while
        // the client is still sending.
        let mut dribbling = slow_request(&app, 1000);
        let tcp = dribbling.get_ref().try_clone().unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_millis(1)))
            .unwrap();
        let mut first = [0u8; 1];
        let mut answered = false;
        for _ in 0..999 {
            use std::io::{Read, Write};
            // The slow client's pace, not a wait for the server.
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = dribbling.write_all(b" ").and_then(|()| dribbling.flush());
            if matches!(dribbling.read(&mut first), Ok(1)) {
                answered = true;
                break;
            }
        }
        assert!(answered, "the dribbling body was never cut");
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let a = format!("{}{}", first[0] as char, answer(&mut dribbling));
        assert!(a.starts_with("HTTP/1.1 408"), "{a}");
        assert!(a.contains("body_timeout"), "{a}");
    }
}
