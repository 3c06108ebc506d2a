//! The fleet list: a server's state, role, release, open alerts and latest figures, from
//! what its agent pushed, on a moved clock.

use pganalytics_domain::access::Role;
use pganalytics_ports::env::Clock as _;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::helpers::*;

struct Fleet {
    app: TestApp,
    collector: TestCollector,
    /// Readings are stamped on whole minutes from here (the test clock also runs).
    start: time::OffsetDateTime,
    minute: i64,
}

impl Fleet {
    fn new(on: On) -> Self {
        let app = TestApp::spawn(on);
        let collector = app.register("db-host");
        let rule = json!({
            "name": "load_high", "severity": "warning", "for": "1m",
            "summary": "{{ server }}: load {{ value }}",
            "condition": {"type": "metric", "family": "sys_load", "column": "load1",
                          "window": "2m", "op": ">", "threshold": 5}
        });
        assert_eq!(
            app.call(
                "POST",
                "/api/v1/alert-rules",
                Some(("Authorization", &format!("Bearer {}", app.api_token))),
                Some(&rule)
            )
            .status,
            201
        );
        let start = app.server.clock().now();
        Self {
            app,
            collector,
            start,
            minute: 0,
        }
    }

    /// A minute passes; the agent pushes its host's load and, when `postgres` answers, the
    /// instance's figures; then alerts are evaluated.
    fn minute(&mut self, postgres: bool) {
        self.app.advance(Duration::minutes(1));
        self.minute += 1;
        let m = self.minute;
        let at = self.start + Duration::minutes(m);
        let mut metrics = vec![
            json!({"family": "sys_load", "instance": "main", "columns": ["load1"], "rows": [[10.0]]}),
        ];
        if postgres {
            metrics.extend([
                json!({"family": "pg_server", "instance": "main",
                       "columns": ["connections", "max_connections", "in_recovery", "server_version_num"],
                       "rows": [[12.0, 100.0, 0.0, 160_004.0]]}),
                // 600 commits and 60 rollbacks a minute; 900 hits for 100 reads.
                json!({"family": "pg_database", "instance": "main",
                       "columns": ["datname", "xact_commit", "xact_rollback", "blks_hit", "blks_read"],
                       "rows": [["app", 1_000 + 600 * m, 60 * m, 900 * m, 100 * m]]}),
                json!({"family": "pg_replication", "instance": "main",
                       "columns": ["application_name", "replay_lag_seconds"],
                       "rows": [["standby1", 2.5], ["standby2", 0.5]]}),
                json!({"family": "disk_usage", "instance": "main",
                       "columns": ["mountpoint", "role", "available_bytes", "total_bytes"],
                       "rows": [["/", "root", 5e9, 10e9], ["/pgdata", "data_directory", 20e9, 200e9]]}),
            ]);
        }
        let batch = json!({
            "version": 1, "batch_id": uuid::Uuid::new_v4(), "collector_id": self.collector.id,
            "agent_version": "test", "collected_at": at.format(&Rfc3339).unwrap(),
            "metrics": metrics,
        });
        let r = self.app.push(&self.collector, &bytes(&batch), "identity");
        assert_eq!(r.status, 200, "{}", r.body);
        self.app.server.run(|uc, _| async move {
            uc.evaluate_alerts.run_once().await.unwrap();
        });
    }

    fn row(&self, role: Role) -> Value {
        let token = format!("Bearer {}", self.app.server.api_token(role));
        let r = self.app.call(
            "GET",
            "/api/v1/fleet",
            Some(("Authorization", &token)),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let servers = r.body["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 1, "{}", r.body);
        servers[0].clone()
    }
}

api_tests! {
    fn the_fleet_shows_each_servers_state_alerts_and_latest_figures(on) {
        let mut f = Fleet::new(on);
        for _ in 0..3 {
            f.minute(true);
        }
        let row = f.row(Role::Viewer);
        assert_eq!(row["collector"], "db-host");
        assert_eq!(row["instance"], "main");
        assert_eq!(row["state"], "up");
        assert_eq!(row["role"], "primary");
        assert_eq!(row["version"], "16.4");
        assert_eq!(row["connections"], 12.0);
        assert_eq!(row["max_connections"], 100.0);
        assert_eq!(row["transactions_per_second"], 11.0);
        assert_eq!(row["cache_hit_ratio"], 0.9);
        assert_eq!(row["replication_lag_seconds"], 2.5, "the primary's slowest standby");
        assert_eq!(row["disk_mountpoint"], "/pgdata", "the smallest free share");
        assert_eq!(row["disk_free_ratio"], 0.1);
        assert_eq!(row["firing_alerts"], 1, "{row}");
        assert_eq!(row["worst_severity"], "warning");

        // A maintenance window says so.
        let server_id = row["server_id"].as_i64().unwrap();
        let until = (f.app.server.clock().now() + Duration::hours(1)).format(&Rfc3339).unwrap();
        let admin = format!("Bearer {}", f.app.api_token);
        let r = f.app.call("POST", "/api/v1/maintenance-windows", Some(("Authorization", &admin)),
            Some(&json!({"server_id": server_id, "ends_at": until})));
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(f.row(Role::Viewer)["state"], "maintenance");
        let id = r.body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/maintenance-windows/{id}");
        assert_eq!(f.app.call("DELETE", &path, Some(("Authorization", &admin)), None).status, 204);

        // The agent still pushes but reads nothing from PostgreSQL: unreachable after 3
        // minutes; the figures of the last 10 minutes stay.
        for _ in 0..2 {
            f.minute(false);
        }
        assert_eq!(f.row(Role::Viewer)["state"], "up", "2 minutes without a reading");
        f.minute(false);
        f.minute(false);
        let row = f.row(Role::Viewer);
        assert_eq!(row["state"], "unreachable");
        assert_eq!(row["version"], "16.4");

        // Nothing at all for over 5 minutes: the agent is silent.
        f.app.advance(Duration::minutes(6));
        assert_eq!(f.row(Role::Viewer)["state"], "agent_silent");
    }
}
