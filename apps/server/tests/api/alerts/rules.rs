use serde_json::{Value, json};

use crate::helpers::*;

fn rule(name: &str) -> Value {
    json!({
        "name": name,
        "severity": "warning",
        "for": "1m",
        "summary": "{{ server }}: load {{ value }}",
        "runbook": "look at top",
        "condition": {
            "type": "metric", "family": "sys_load", "column": "load1",
            "window": "5m", "op": ">", "threshold": 5, "critical": 20
        }
    })
}

api_tests! {
    fn built_in_rules_are_loaded_and_every_rule_is_checked_before_it_is_stored(on) {
        let app = TestApp::spawn(on);
        let admin = ("Authorization", format!("Bearer {}", app.api_token));
        let admin = (admin.0, admin.1.as_str());
        let r = app.call("GET", "/api/v1/alert-rules", Some(admin), None);
        assert_eq!(r.status, 200);
        let builtins = r.body.as_array().unwrap().len();
        assert!(builtins >= 45, "{builtins} built-in rules");
        assert!(r.body.as_array().unwrap().iter().all(|x| x["builtin"] == true));

        // Bad input: each a clear 400 naming the problem, nothing stored.
        let cases = [
            (json!({"condition": {"family": "pg_nope"}}), "unknown metric family"),
            (json!({"condition": {"column": "nope"}}), "no numeric column"),
            (json!({"for": "5 minutes"}), "not a duration"),
            (json!({"severity": "urgent"}), "unknown variant `urgent`"),
            (json!({"summary": "{{ nolabel }}"}), "not a label"),
            (json!({"condition": {"type": "absence", "of": "nothing"}}), "neither"),
            (json!({"scope": ["server=~("]}), "regular expression"),
            (json!({"surprise": 1}), "unknown field"),
        ];
        for (change, says) in cases {
            let mut body = rule("bad");
            if change["condition"]["type"] == "absence" {
                body["condition"] = json!({});
            }
            merge(&mut body, &change);
            let r = app.call("POST", "/api/v1/alert-rules", Some(admin), Some(&body));
            assert_eq!(r.status, 400, "{change}: {}", r.body);
            let msg = r.body["error"]["message"].as_str().unwrap();
            assert!(msg.contains(says), "{change}: {msg}");
        }
        assert_eq!(app.call("GET", "/api/v1/alert-rules/bad", Some(admin), None).status, 404);

        // Only admins edit rules; a user acknowledges, a viewer reads.
        for role in [pganalytics_domain::access::Role::User, pganalytics_domain::access::Role::Viewer] {
            let token = app.server.api_token(role);
            let auth = ("Authorization", format!("Bearer {token}"));
            let r = app.call("POST", "/api/v1/alert-rules", Some((auth.0, &auth.1)), Some(&rule("mine")));
            assert_eq!(r.status, 403, "{role:?}");
        }
        let r = app.call("POST", "/api/v1/alert-rules", Some(admin), Some(&rule("mine")));
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["rule"]["name"], "mine");
        assert_eq!(app.call("POST", "/api/v1/alert-rules", Some(admin), Some(&rule("mine"))).status, 409);
        let r = app.call("PUT", "/api/v1/alert-rules/mine", Some(admin), Some(&rule("other")));
        assert_eq!(r.status, 400, "a rename is refused: {}", r.body);
        let r = app.call("POST", "/api/v1/alert-rules/mine/disable", Some(admin), None);
        assert_eq!((r.status, &r.body["enabled"]), (200, &json!(false)));
        // Editing a built-in marks it edited.
        let mut idle = app.call("GET", "/api/v1/alert-rules/pg_idle_in_transaction", Some(admin), None).body["rule"].clone();
        idle["condition"]["threshold"] = json!(60);
        let r = app.call("PUT", "/api/v1/alert-rules/pg_idle_in_transaction", Some(admin), Some(&idle));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!((r.body["builtin"].clone(), r.body["edited"].clone()), (json!(true), json!(true)));
        assert_eq!(app.audit_count(Some("alert_rule.create"), None), 1);
        assert_eq!(app.audit_count(Some("alert_rule.update"), None), 1);
        assert_eq!(app.audit_count(Some("alert_rule.disable"), None), 1);
    }

    fn rule_files_import_whole_or_not_at_all_and_export_round_trips(on) {
        let app = TestApp::spawn(on);
        let admin_h = format!("Bearer {}", app.api_token);
        let export = app
            .client()
            .get(&app.url("/api/v1/alert-rules/export"))
            .header("Authorization", &admin_h)
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert!(export.contains("[[rule]]") && export.contains("name = \"pg_idle_in_transaction\""));
        let import = |text: &str| {
            reply(
                app.client()
                    .post(&app.url("/api/v1/alert-rules/import"))
                    .header("Authorization", &admin_h)
                    .header("Content-Type", "application/toml")
                    .send(text.as_bytes()),
            )
        };
        let good = "[[rule]]\nname = \"imported\"\nseverity = \"info\"\nsummary = \"x\"\n[rule.condition]\ntype = \"metric\"\nfamily = \"sys_load\"\ncolumn = \"load1\"\nop = \">\"\nthreshold = 1\n";
        let bad = format!("{good}\n[[rule]]\nname = \"broken\"\nseverity = \"info\"\nsummary = \"x\"\n[rule.condition]\ntype = \"metric\"\nfamily = \"sys_load\"\ncolumn = \"loadx\"\nop = \">\"\nthreshold = 1\n").replace("name = \"imported\"", "name = \"imported2\"");
        let r = import(&bad);
        assert_eq!(r.status, 400, "{}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("line 19") && msg.contains("broken") && msg.contains("loadx"), "{msg}");
        let auth = ("Authorization", admin_h.as_str());
        assert_eq!(app.call("GET", "/api/v1/alert-rules/imported2", Some(auth), None).status, 404, "nothing stored");
        let r = import(good);
        assert_eq!((r.status, r.body["rules"].clone()), (200, json!(["imported"])));
        // The whole export imports back unchanged.
        let r = import(&export);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(import("not toml [").status, 400);
    }

    fn sql_rules_are_run_once_read_only_before_they_are_stored(on) {
        let app = TestApp::spawn(on);
        let auth_h = format!("Bearer {}", app.api_token);
        let auth = ("Authorization", auth_h.as_str());
        let sql = |q: &str| json!({
            "name": "sql_rule", "severity": "warning", "summary": "{{ datname }} {{ value }}",
            "condition": {"type": "sql", "query": q, "op": ">", "threshold": 0, "timeout": "2s"}
        });
        let ok = "SELECT server_id, datname, count(*)::float8 AS value FROM metrics.pg_database GROUP BY 1, 2";
        let r = app.call("POST", "/api/v1/alert-rules", Some(auth), Some(&sql(ok)));
        if on == On::Memory {
            assert_eq!(r.status, 400);
            assert!(r.body["error"]["message"].as_str().unwrap().contains("PostgreSQL"));
            return;
        }
        assert_eq!(r.status, 201, "{}", r.body);
        for (q, says) in [
            ("SELECT 1 AS value FROM (SELECT pg_sleep(5)) x", "statement timeout"),
            ("SELECT count(*)::float8 AS value FROM users", "permission denied"),
            ("SELECT 1 AS value; DROP TABLE users", "syntax"),
        ] {
            let mut body = sql(q);
            body["name"] = json!("sql_bad");
            let r = app.call("POST", "/api/v1/alert-rules", Some(auth), Some(&body));
            assert_eq!(r.status, 400, "{q}");
            assert!(r.body["error"]["message"].as_str().unwrap().contains(says), "{q}: {}", r.body);
        }
        assert_eq!(app.call("GET", "/api/v1/alert-rules/sql_bad", Some(auth), None).status, 404);
    }
}

/// Merges `change` into `base` (objects recursively).
pub fn merge(base: &mut Value, change: &Value) {
    match (base, change) {
        (Value::Object(b), Value::Object(c)) => {
            for (k, v) in c {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, c) => *b = c.clone(),
    }
}
