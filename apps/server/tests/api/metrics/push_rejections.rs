//! Every rejected push gets the right 4xx and stores nothing.

use crate::helpers::{
    On, SMALL_BATCH_LIMIT, SMALL_BODY_LIMIT, TestApp, TestCollector, api_tests, bytes,
    example_batch, gzip, now,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pganalytics_adapters::jwt::JoseSigner;
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::credentials::CollectorClaims;
use pganalytics_ports::crypto::TokenSigner;
use serde_json::json;

fn rejected(app: &TestApp, r: crate::helpers::Reply, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        r.body
    );
    assert_eq!(app.total_rows(), 0, "a rejected push stored rows");
}

fn setup(on: On) -> (TestApp, TestCollector) {
    let app = TestApp::spawn(on);
    let c = app.register("db1");
    (app, c)
}

api_tests! {
    fn without_a_client_certificate_the_push_is_a_401(on) {
        let (app, c) = setup(on);
        let r = app.push_as(
            &app.client(),
            &c.token,
            &bytes(&example_batch(c.id, now())),
            "gzip",
        );
        rejected(&app, r, 401, "client_certificate_required");
    }
}

api_tests! {
    fn another_collectors_certificate_is_a_403(on) {
        let (app, a) = setup(on);
        let b = app.register("db2");
        let r = app.push_as(
            &app.collector_client(&b),
            &a.token,
            &bytes(&example_batch(a.id, now())),
            "gzip",
        );
        rejected(&app, r, 403, "certificate_mismatch");
    }
}

api_tests! {
    fn a_missing_expired_or_forged_token_is_a_401(on) {
        let (app, c) = setup(on);
        let body = bytes(&example_batch(c.id, now()));
        let client = app.collector_client(&c);
        let claims = CollectorClaims::new(
            CollectorId::from_uuid(c.id),
            uuid::Uuid::new_v4(),
            now() - time::Duration::minutes(20),
        );

        let ours = JoseSigner::from_pem(&app.signing_key()).unwrap();
        rejected(
            &app,
            app.push_as(&client, &ours.issue(&claims).unwrap(), &body, "gzip"),
            401,
            "token_expired",
        );

        let other_dir = tempfile::tempdir().unwrap();
        let theirs = JoseSigner::load_or_create(&other_dir.path().join("k")).unwrap();
        let fresh = CollectorClaims::new(CollectorId::from_uuid(c.id), uuid::Uuid::new_v4(), now());
        rejected(
            &app,
            app.push_as(&client, &theirs.issue(&fresh).unwrap(), &body, "gzip"),
            401,
            "invalid_token",
        );

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fresh).unwrap())
        );
        rejected(
            &app,
            app.push_as(&client, &none, &body, "gzip"),
            401,
            "invalid_token",
        );
        rejected(
            &app,
            app.push_as(&client, "", &body, "gzip"),
            401,
            "token_required",
        );
    }
}

api_tests! {
    fn malformed_json_wrong_types_and_future_timestamps_are_400s(on) {
        let (app, c) = setup(on);
        rejected(
            &app,
            app.push(&c, b"{\"version\": 1, \"metrics\": [", "gzip"),
            400,
            "malformed_batch",
        );

        let mut wrong = example_batch(c.id, now());
        wrong["metrics"][0]["rows"][0][2] = json!("lots");
        rejected(
            &app,
            app.push(&c, &bytes(&wrong), "gzip"),
            400,
            "wrong_type",
        );

        let future = example_batch(c.id, now() + time::Duration::minutes(10));
        rejected(
            &app,
            app.push(&c, &bytes(&future), "gzip"),
            400,
            "timestamp_in_future",
        );

        let mut nan = example_batch(c.id, now());
        nan["metrics"][3]["rows"][0][0] = json!("NaN");
        rejected(&app, app.push(&c, &bytes(&nan), "gzip"), 400, "non_finite");
    }
}

api_tests! {
    fn a_batch_naming_another_collector_is_a_403(on) {
        let (app, c) = setup(on);
        let other = uuid::Uuid::new_v4();
        rejected(
            &app,
            app.push(&c, &bytes(&example_batch(other, now())), "gzip"),
            403,
            "collector_mismatch",
        );
    }
}

api_tests! {
    fn oversized_bodies_and_compression_bombs_are_413s(on) {
        let (app, c) = setup(on);
        // Incompressible bytes past the compressed-body limit.
        let mut noise = vec![0u8; SMALL_BODY_LIMIT + 1024];
        let mut x: u32 = 12345;
        for b in noise.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        rejected(
            &app,
            app.push(&c, &noise, "identity"),
            413,
            "payload_too_large",
        );

        // A few KiB that inflate past the decompressed-batch limit.
        let bomb = gzip(&vec![b' '; SMALL_BATCH_LIMIT * 4]);
        assert!(bomb.len() < SMALL_BODY_LIMIT);
        let client = app.collector_client(&c);
        let r = crate::helpers::reply(
            client
                .post(&app.url("/api/v1/metrics/push"))
                .header("Authorization", &format!("Bearer {}", c.token))
                .header("Content-Encoding", "gzip")
                .send(&bomb[..]),
        );
        rejected(&app, r, 413, "payload_too_large");
    }
}

api_tests! {
    fn an_unknown_content_encoding_is_a_415(on) {
        let (app, c) = setup(on);
        rejected(
            &app,
            app.push(&c, &bytes(&example_batch(c.id, now())), "br"),
            415,
            "unsupported_encoding",
        );
    }
}

api_tests! {
    fn a_push_of_millions_of_tiny_cells_is_refused_while_it_is_read(on) {
        // Issue 11, finding 1: a few kilobytes of zstd unpacking to millions of tiny cells
        // were parsed whole (~790 MB) before the row limit refused them. Now the parse stops
        // at the cell budget (2,000,000 values), whatever the rows look like.
        let (app, c) = setup(on);
        let mut batch = example_batch(c.id, now());
        let row = serde_json::Value::Array(vec![0.into(); 250]);
        batch["metrics"][0]["rows"] = serde_json::Value::Array(vec![row; 10_000]);
        let body = bytes(&batch);
        assert!(body.len() < SMALL_BATCH_LIMIT);
        let r = app.push(&c, &body, "zstd");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("number of values exceeds the limit of 2000000")),
            "{}",
            r.body
        );
        rejected(&app, r, 413, "limit_exceeded");
    }
}
