use crate::helpers::{TestApp, TestCollector, api_tests, reply};

api_tests! {
    fn renewal_issues_a_certificate_for_the_new_key_and_retires_the_old_one(on) {
        let app = TestApp::spawn(on);
        let old = app.register("db1");
        let path = app.url(&format!("/api/v1/collectors/{}/certificate", old.id));
        let (new_key, csr) = pganalytics_adapters::pki::new_key_and_csr("db1").unwrap();

        let without_cert = reply(
            app.client()
                .post(&path)
                .send_json(serde_json::json!({ "csr": csr })),
        );
        assert_eq!(without_cert.status, 401, "{}", without_cert.body);

        let r = reply(
            app.collector_client(&old)
                .post(&path)
                .send_json(serde_json::json!({ "csr": csr })),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let cert = r.body["certificate"].as_str().unwrap().to_owned();
        assert!(pganalytics_adapters::pki::certificate_matches_key(
            &cert, &new_key
        ));
        assert_eq!(
            pganalytics_adapters::pki::common_name(&cert).as_deref(),
            Some(old.id.to_string().as_str())
        );
        let renewed = TestCollector {
            id: old.id,
            key_pem: new_key,
            cert_pem: cert.clone(),
            token: old.token.clone(),
        };

        // The new certificate pushes; the old one is refused, also for another renewal.
        assert_eq!(app.push_example(&renewed).status, 200);
        let stale = reply(
            app.collector_client(&old)
                .post(&app.url(&format!("/api/v1/collectors/{}/token", old.id)))
                .send_empty(),
        );
        assert_eq!(
            (stale.status, stale.body["error"]["code"].as_str()),
            (403, Some("certificate_mismatch"))
        );
        let again = reply(
            app.collector_client(&old)
                .post(&path)
                .send_json(serde_json::json!({ "csr": csr })),
        );
        assert_eq!(again.status, 403);

        // The current certificate is public: what an agent fetches after a lost answer.
        let current = reply(app.client().get(&path).call());
        assert_eq!(current.status, 200);
        assert_eq!(current.body["certificate"].as_str(), Some(cert.as_str()));

        let bad_csr = reply(
            app.collector_client(&renewed)
                .post(&path)
                .send_json(serde_json::json!({ "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" })),
        );
        assert_eq!(
            (bad_csr.status, bad_csr.body["error"]["code"].as_str()),
            (400, Some("invalid_csr"))
        );
    }
}
