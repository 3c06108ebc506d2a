use crate::helpers::{TestApp, api_tests};

api_tests! {
    fn registering_with_a_csr_returns_a_client_certificate_for_the_collector_and_the_ca(on) {
        let app = TestApp::spawn(on);
        let (_key, csr) = pganalytics_adapters::pki::new_key_and_csr("db1").unwrap();
        let r = app.register_with(&app.registration_token(1), "db1", Some(&csr));
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["collector_id"].as_str().unwrap();
        let cert = r.body["certificate"].as_str().unwrap();
        assert_eq!(
            pganalytics_adapters::pki::common_name(cert).as_deref(),
            Some(id)
        );
        assert_eq!(r.body["ca_certificate"].as_str().unwrap(), app.ca_pem());
        assert!(r.body["token"].as_str().unwrap().starts_with("eyJ"));
        assert!(r.body["expires_at"].is_string());
        assert!(r.body.get("private_key").is_none());

        let listed = app.get("/api/v1/collectors");
        assert_eq!(listed.body["collectors"][0]["id"], id);
        assert_eq!(listed.body["collectors"][0]["status"], "active");
    }
}

api_tests! {
    fn a_used_up_registration_token_is_refused_and_registers_nothing(on) {
        let app = TestApp::spawn(on);
        let token = app.registration_token(1);
        let (_k, csr) = pganalytics_adapters::pki::new_key_and_csr("a").unwrap();
        assert_eq!(app.register_with(&token, "a", Some(&csr)).status, 201);
        let r = app.register_with(&token, "b", Some(&csr));
        assert_eq!(r.status, 401);
        assert_eq!(r.body["error"]["code"], "registration_token_used_up");
        assert_eq!(
            app.get("/api/v1/collectors").body["collectors"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

api_tests! {
    fn unknown_tokens_missing_or_bad_csrs_and_taken_names_are_refused_with_clear_codes(on) {
        let app = TestApp::spawn(on);
        let (_k, csr) = pganalytics_adapters::pki::new_key_and_csr("a").unwrap();
        let unknown = app.register_with(
            "pgar_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "a",
            Some(&csr),
        );
        assert_eq!(
            (unknown.status, unknown.body["error"]["code"].as_str()),
            (401, Some("invalid_registration_token"))
        );

        let token = app.registration_token(5);
        let no_csr = app.register_with(&token, "a", None);
        assert_eq!(
            (no_csr.status, no_csr.body["error"]["code"].as_str()),
            (400, Some("csr_required"))
        );
        let bad_csr = app.register_with(
            &token,
            "a",
            Some("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
        );
        assert_eq!(
            (bad_csr.status, bad_csr.body["error"]["code"].as_str()),
            (400, Some("invalid_csr"))
        );
        let bad_name = app.register_with(&token, "no spaces", Some(&csr));
        assert_eq!(
            (bad_name.status, bad_name.body["error"]["code"].as_str()),
            (400, Some("invalid_input"))
        );

        assert_eq!(app.register_with(&token, "a", Some(&csr)).status, 201);
        let taken = app.register_with(&token, "a", Some(&csr));
        assert_eq!(
            (taken.status, taken.body["error"]["code"].as_str()),
            (409, Some("name_taken"))
        );
    }
}

api_tests! {
    fn malformed_registration_json_is_a_400(on) {
        let app = TestApp::spawn(on);
        let r = crate::helpers::reply(
            app.client()
                .post(&app.url("/api/v1/collectors/register"))
                .header(
                    "Authorization",
                    &format!("Bearer {}", app.registration_token(1)),
                )
                .header("Content-Type", "application/json")
                .send("{\"name\": "),
        );
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("malformed_json"))
        );
    }
}
