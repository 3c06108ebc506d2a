//! The Debian packages in a Debian container booted with systemd, as an operator uses them.

use crate::docker::{
    all_spooled_ingested, build_image, docker, enabled, packages, sh, sh_status, spooled_batch_ids,
    wait_for,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// A container booted with systemd (removed when dropped), with no network: everything
/// the test does happens inside it.
struct Host {
    name: String,
}

impl Host {
    fn boot(image: &str, debs: &std::path::Path) -> Host {
        let name = format!("pganalytics-test-host-{}", std::process::id());
        sh(&format!(
            "{d} rm -f {name} >/dev/null 2>&1; {d} run -d --name {name} --network none \
             --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
             -v {debs}:/debs:ro {image} >/dev/null",
            d = docker(),
            debs = debs.display()
        ));
        let host = Host { name };
        wait_for("systemd to boot", Duration::from_secs(60), || {
            let state = host.run("systemctl is-system-running || true");
            ["running", "degraded"]
                .contains(&state.trim())
                .then_some(())
        });
        host
    }

    /// The `docker exec` command line running `bash -c script` inside, as root.
    fn exec(&self, script: &str) -> String {
        let quoted = script.replace('\'', "'\\''");
        format!("{} exec {} bash -c '{quoted}'", docker(), self.name)
    }

    /// Runs `script` inside; panics with the output unless it succeeds.
    fn run(&self, script: &str) -> String {
        sh(&self.exec(script))
    }

    fn succeeds(&self, script: &str) -> bool {
        sh_status(&self.exec(script)).status.success()
    }

    /// The batch ids the server has ingested (its private cluster, through its socket).
    fn ingested(&self) -> BTreeSet<String> {
        self.run(
            "psql -h /var/lib/pganalytics/postgres/run -U postgres -d pganalytics -tAc \
             'SELECT batch_id FROM ingested_batches'",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    fn spooled(&self) -> BTreeSet<String> {
        spooled_batch_ids(&self.run("journalctl -u pganalytics-agent -o cat --no-pager"))
    }

    /// Waits until every batch the agent spooled is in the server's database.
    fn all_spooled_ingested(&self) -> usize {
        all_spooled_ingested(|| self.spooled(), || self.ingested())
    }

    fn api(&self, token: &str, path: &str) -> serde_json::Value {
        let body = self.run(&format!(
            "curl -sS --fail-with-body --cacert /etc/pganalytics/server-ca.pem \
             -H 'Authorization: Bearer {token}' https://127.0.0.1:8443{path}"
        ));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    fn exposure(&self, unit: &str) -> f64 {
        let out = self.run(&format!(
            "systemd-analyze security --no-pager {unit} | tail -n1"
        ));
        // "→ Overall exposure level for pganalytics-server.service: 1.4 OK :-)"
        out.rsplit(": ")
            .next()
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in {out:?}"))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = sh_status(&format!("{} rm -f {} >/dev/null 2>&1", docker(), self.name));
    }
}

const SERVER_CLI: &str = "runuser -u pganalytics -- pganalytics-server --config /etc/pganalytics/pganalytics-server.toml";

#[test]
fn packages_install_register_restart_purge_and_reinstall_keeping_data() {
    if !enabled("packages") {
        return;
    }
    let debs = packages();
    build_image(
        "docker/systemd-host.Dockerfile",
        None,
        "pganalytics-test/systemd-host",
        "docker",
    );
    let host = Host::boot("pganalytics-test/systemd-host", &debs);

    // Install: users, state directories, configuration, the server started (Type=notify:
    // dpkg returns once it is ready), the agent waiting for its registration.
    host.run("dpkg -i /debs/pganalytics-server_*.deb /debs/pganalytics-agent_*.deb");
    assert_eq!(
        host.run("systemctl is-active pganalytics-server").trim(),
        "active"
    );
    assert_eq!(
        host.run("systemctl show -p ConditionResult --value pganalytics-agent")
            .trim(),
        "no",
        "the agent waits for `register`"
    );
    assert_eq!(
        host.run(
            "stat -c '%U:%G %a' /var/lib/pganalytics /var/lib/pganalytics-agent \
             /etc/pganalytics/pganalytics-server.toml /etc/pganalytics/pganalytics-agent.toml"
        ),
        "pganalytics:pganalytics 700\npganalytics-agent:pganalytics-agent 750\n\
         root:pganalytics 640\nroot:pganalytics-agent 640\n"
    );
    assert!(
        host.run("journalctl -u pganalytics-server -o cat")
            .contains("\"listening\"")
    );
    for unit in [
        "pganalytics-server",
        "pganalytics-agent",
        "pganalytics-agent-check",
    ] {
        let level = host.exposure(unit);
        eprintln!("systemd-analyze security {unit}: {level}");
        assert!(level <= 2.0, "{unit}: exposure {level}");
    }

    // The monitored database: Debian's own cluster, a login with a password that the agent
    // reads from .pgpass through a pg_service.conf service, both under its state directory.
    host.run(
        "runuser -u postgres -- psql -qc \"CREATE ROLE pga_monitor LOGIN PASSWORD 'pgpass-secret' IN ROLE pg_monitor\"
         install -o pganalytics-agent -g pganalytics-agent -m 0600 /dev/null /var/lib/pganalytics-agent/.pgpass
         echo '127.0.0.1:5432:*:pga_monitor:pgpass-secret' >/var/lib/pganalytics-agent/.pgpass
         printf '[main]\\nhost=127.0.0.1\\nport=5432\\ndbname=postgres\\nuser=pga_monitor\\n' \
           >/var/lib/pganalytics-agent/pg_service.conf
         chown pganalytics-agent: /var/lib/pganalytics-agent/pg_service.conf
         printf 'PGANALYTICS_AGENT_INTERVALS__ACTIVITY=2\\nPGANALYTICS_AGENT_INTERVALS__DATABASE=2\\nPGANALYTICS_AGENT_INTERVALS__HOST=2\\n' \
           >/etc/pganalytics/pganalytics-agent.env
         chmod 0600 /etc/pganalytics/pganalytics-agent.env
         install -m 0644 /var/lib/pganalytics/ca.pem /etc/pganalytics/server-ca.pem",
    );

    // Register with a registration token, as the agent's user.
    host.run(&format!(
        "export PGANALYTICS_AGENT_REGISTRATION_TOKEN=$({SERVER_CLI} registration-token create 2>/dev/null)
         runuser -u pganalytics-agent -- pganalytics-agent --config /etc/pganalytics/pganalytics-agent.toml \
           register --server https://127.0.0.1:8443 --ca-file /etc/pganalytics/server-ca.pem"
    ));
    // `check` under the daemon's sandbox: the one-shot unit.
    let checked = host.succeeds("systemctl start pganalytics-agent-check");
    let report = host.run("journalctl -u pganalytics-agent-check -o cat --no-pager");
    assert!(checked, "check failed under the sandbox:\n{report}");
    for line in [
        "ok      main: connection",
        "ok      main: privileges",
        "ok      server ",
        "ok      spool ",
        "ok      host: sys_cpu",
    ] {
        assert!(report.contains(line), "check: no {line:?} in\n{report}");
    }

    host.run("systemctl start pganalytics-agent");
    assert_eq!(
        host.run("systemctl show -p MemoryMax -p CPUQuotaPerSecUSec pganalytics-agent"),
        "CPUQuotaPerSecUSec=250ms\nMemoryMax=268435456\n"
    );
    let token = host.run(&format!(
        "{SERVER_CLI} api-token create --name deploy-test 2>/dev/null"
    ));
    let token = token.trim();
    let server_id = wait_for(
        "the agent's server in the fleet, up",
        Duration::from_secs(60),
        || {
            let fleet = host.api(token, "/api/v1/fleet");
            fleet["servers"]
                .as_array()
                .and_then(|s| s.first())
                .filter(|s| {
                    s["state"] == "up" && s["version"].as_str().is_some_and(|v| v.starts_with("15"))
                })
                .map(|s| s["server_id"].as_i64().unwrap())
        },
    );
    wait_for(
        "host metrics through the API",
        Duration::from_secs(60),
        || {
            let series = host.api(
                token,
                &format!("/api/v1/servers/{server_id}/metrics?family=sys_load&step=10s"),
            );
            series["series"]
                .as_array()
                .filter(|s| !s.is_empty())
                .map(|_| ())
        },
    );
    let before = host.all_spooled_ingested();

    // Restarts: the agent spools while the server is away and delivers afterwards.
    host.run("systemctl restart pganalytics-server");
    host.run("systemctl restart pganalytics-agent");
    wait_for("a few more cycles", Duration::from_secs(60), || {
        (host.spooled().len() >= before + 3).then_some(())
    });
    let after_restart = host.all_spooled_ingested();
    assert!(after_restart > before);

    // Purge: configuration and units go, data and identities stay.
    let ca = host.run("sha256sum /var/lib/pganalytics/ca.pem");
    let ingested = host.ingested().len();
    host.run("dpkg --purge pganalytics-agent pganalytics-server");
    assert!(!host.succeeds("test -e /etc/pganalytics/pganalytics-server.toml"));
    assert!(!host.succeeds("test -e /lib/systemd/system/pganalytics-server.service"));
    host.run(
        "test -s /var/lib/pganalytics/ca.pem && test -d /var/lib/pganalytics/postgres/pgdata \
         && test -s /var/lib/pganalytics-agent/identity/collector.json \
         && getent passwd pganalytics pganalytics-agent >/dev/null",
    );

    // Reinstall: both start on the kept data; the old API token, the agent's identity and
    // every batch are still there, and new batches arrive.
    host.run("dpkg -i /debs/pganalytics-server_*.deb /debs/pganalytics-agent_*.deb");
    assert_eq!(
        host.run("systemctl is-active pganalytics-server pganalytics-agent"),
        "active\nactive\n"
    );
    assert_eq!(host.run("sha256sum /var/lib/pganalytics/ca.pem"), ca);
    assert!(host.ingested().len() >= ingested);
    let fleet = host.api(token, "/api/v1/fleet");
    assert_eq!(fleet["servers"][0]["server_id"], server_id);
    let spooled_before = host.spooled().len();
    wait_for(
        "new cycles after the reinstall",
        Duration::from_secs(60),
        || (host.spooled().len() >= spooled_before + 2).then_some(()),
    );
    host.all_spooled_ingested();
}
