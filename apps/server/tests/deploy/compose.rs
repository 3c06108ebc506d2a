//! The container images and the compose stack, as docs/deployment.md runs them.

use crate::docker::{
    all_spooled_ingested, build_image, docker, enabled, free_port, packages, sh, sh_status,
    spooled_batch_ids, wait_for,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// A compose project of the test's own (torn down with its volumes when dropped).
struct Stack {
    project: String,
    env: Vec<(String, String)>,
    server_port: u16,
}

impl Stack {
    fn compose(&self, args: &str) -> String {
        sh(&self.command(args))
    }

    fn command(&self, args: &str) -> String {
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}='{v}' "))
            .collect();
        format!(
            "cd docker && {env} docker-compose -f compose.yaml -f compose.test.yaml -p {} {args}",
            self.project
        )
    }

    fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }

    fn health(&self, service: &str) -> String {
        sh(&format!(
            "{} inspect -f '{{{{.State.Health.Status}}}}' {}",
            docker(),
            self.container(service)
        ))
        .trim()
        .to_string()
    }

    fn wait_healthy(&self, service: &str) {
        wait_for(
            &format!("{service} to be healthy"),
            Duration::from_secs(180),
            || (self.health(service) == "healthy").then_some(()),
        );
    }

    fn ingested(&self) -> BTreeSet<String> {
        self.compose(
            "exec -T postgres psql -U pganalytics -d pganalytics -tAc \
             'SELECT batch_id FROM ingested_batches'",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    fn spooled(&self) -> BTreeSet<String> {
        spooled_batch_ids(&self.compose("logs --no-color agent"))
    }

    fn all_spooled_ingested(&self) -> usize {
        all_spooled_ingested(|| self.spooled(), || self.ingested())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = sh_status(&self.command("down -v --remove-orphans >/dev/null 2>&1"));
    }
}

fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[test]
fn images_build_and_the_compose_stack_runs_and_keeps_data_across_a_server_restart() {
    if !enabled("compose") {
        return;
    }
    let started = std::time::Instant::now();
    packages(); // the release binaries
    let id = std::process::id();
    let (server_image, agent_image, postgres_image) = (
        format!("pganalytics-test/server:{id}"),
        format!("pganalytics-test/agent:{id}"),
        format!("pganalytics-test/postgres:{id}"),
    );
    build_image("docker/Dockerfile", Some("server"), &server_image, ".");
    build_image("docker/Dockerfile", Some("agent"), &agent_image, ".");
    build_image(
        "docker/postgres.Dockerfile",
        None,
        &postgres_image,
        "docker",
    );
    // The images run as their own users, with a health check.
    for (image, user) in [
        (&server_image, "10001:10001"),
        (&agent_image, "10002:10002"),
    ] {
        let config = sh(&format!(
            "{} image inspect -f '{{{{.Config.User}}}} {{{{.Config.Healthcheck.Test}}}}' {image}",
            docker()
        ));
        assert!(config.starts_with(user), "{image}: {config}");
        assert!(config.contains("health"), "{image}: {config}");
    }

    let server_port = free_port();
    let stack = Stack {
        project: format!("pgatest{id}"),
        env: vec![
            ("POSTGRES_PASSWORD".into(), secret()),
            ("GRAFANA_DB_PASSWORD".into(), secret()),
            ("AGENT_DB_PASSWORD".into(), secret()),
            ("GRAFANA_ADMIN_PASSWORD".into(), secret()),
            ("PGANALYTICS_POSTGRES_PORT".into(), free_port().to_string()),
            ("PGANALYTICS_SERVER_PORT".into(), server_port.to_string()),
            ("PGANALYTICS_GRAFANA_PORT".into(), free_port().to_string()),
            ("PGANALYTICS_POSTGRES_IMAGE".into(), postgres_image.clone()),
            ("PGANALYTICS_SERVER_IMAGE".into(), server_image.clone()),
            ("PGANALYTICS_AGENT_IMAGE".into(), agent_image.clone()),
        ],
        server_port,
    };
    eprintln!(
        "compose: Grafana is not started — no image registry is reachable on this machine; \
         its dashboards are checked by apps/agent/tests/grafana.rs"
    );
    stack.compose("up -d --no-build postgres server");
    stack.wait_healthy("server");
    // Read-only root file systems, no capabilities.
    let hardened = sh(&format!(
        "{} inspect -f '{{{{.HostConfig.ReadonlyRootfs}}}} {{{{.HostConfig.CapDrop}}}}' {}",
        docker(),
        stack.container("server")
    ));
    assert_eq!(hardened.trim(), "true [ALL]");

    // Register the agent as the docs say, then start it.
    let dir = tempfile::tempdir().unwrap();
    let ca = stack.compose("exec -T server cat /var/lib/pganalytics/ca.pem");
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    let token =
        stack.compose("exec -T server pganalytics-server registration-token create 2>/dev/null");
    stack.compose(&format!(
        "run --rm -v {}/ca.pem:/etc/pganalytics/ca.pem:ro -e PGANALYTICS_AGENT_REGISTRATION_TOKEN={} \
         agent register --server https://server:8443 --ca-file /etc/pganalytics/ca.pem",
        dir.path().display(),
        token.trim()
    ));
    stack.compose("up -d --no-build agent");
    stack.wait_healthy("agent");

    // The agent's data through the API, from the host, trusting the server's CA.
    let api_token = stack.compose(
        "exec -T server pganalytics-server api-token create --name compose-test 2>/dev/null",
    );
    let client = pganalytics_adapters::http::agent_trusting(&ca).unwrap();
    let get = |path: &str| -> serde_json::Value {
        let mut res = client
            .get(format!("https://127.0.0.1:{}{path}", stack.server_port))
            .header("Authorization", format!("Bearer {}", api_token.trim()))
            .call()
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap()
    };
    let server_id = wait_for(
        "the monitored PostgreSQL in the fleet, up",
        Duration::from_secs(60),
        || {
            get("/api/v1/fleet")["servers"]
                .as_array()
                .and_then(|s| s.first())
                .filter(|s| s["state"] == "up" && s["connections"].as_f64().is_some())
                .map(|s| s["server_id"].as_i64().unwrap())
        },
    );
    wait_for(
        "pg_database through the API",
        Duration::from_secs(60),
        || {
            let answer = get(&format!(
                "/api/v1/servers/{server_id}/metrics?family=pg_database&step=10s"
            ));
            answer["series"]
                .as_array()
                .filter(|s| !s.is_empty())
                .map(|_| ())
        },
    );
    let before = stack.all_spooled_ingested();

    // The server's container restarts; the agent keeps spooling and delivers everything.
    stack.compose("restart server");
    stack.wait_healthy("server");
    wait_for(
        "more cycles after the restart",
        Duration::from_secs(60),
        || (stack.spooled().len() >= before + 3).then_some(()),
    );
    let after = stack.all_spooled_ingested();
    assert!(after > before);
    // The server's volume kept its CA: the agent's certificate is still accepted.
    assert_eq!(
        stack.compose("exec -T server cat /var/lib/pganalytics/ca.pem"),
        ca
    );
    eprintln!(
        "compose: {before} batches before the restart, {after} after, none lost; {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
