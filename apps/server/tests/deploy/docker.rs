//! What both deployment tests share: the switch, commands with their output in the
//! failure, the locally made base image, the release binaries and packages, waits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Whether the container suites run; otherwise the test prints why not.
pub fn enabled(test: &str) -> bool {
    let on = std::env::var("PGANALYTICS_CONTAINER_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!(
            "{test}: NOT RUN — set PGANALYTICS_CONTAINER_TESTS=1 on a machine with a Docker \
             engine and debootstrap (as .ci/run does) to run it"
        );
    }
    on
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `bash -c script` in the repository; panics with its output unless it succeeds.
pub fn sh(script: &str) -> String {
    let out = sh_status(script);
    assert!(
        out.status.success(),
        "failed ({}): {script}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn sh_status(script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .current_dir(repo())
        .env("DOCKER_BUILDKIT", "1")
        .stdin(Stdio::null())
        .output()
        .expect("bash")
}

/// The Docker CLI that builds with BuildKit: Debian's 20.10 one (a newer CLI on the PATH may
/// lack the buildx plugin).
pub fn docker() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

/// Waits for `f` to give a value, polling until `within`; panics with `what`.
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let mut found = None;
    pganalytics_adapters::testing::wait_until(what, within, || {
        found = f();
        found.is_some()
    });
    found.expect("wait_until returned, so the value is there")
}

/// The Debian 12 base image, made once per machine with debootstrap (no registry needed).
pub fn base_image() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    const IMAGE: &str = "local/debian:bookworm";
    DONE.get_or_init(|| {
        let d = docker();
        if sh_status(&format!("{d} image inspect {IMAGE} >/dev/null 2>&1"))
            .status
            .success()
        {
            return;
        }
        assert!(
            sh_status("command -v debootstrap").status.success(),
            "debootstrap is missing: apt-get install debootstrap"
        );
        let mirror = sh("sed -n 's#^URIs: *\\(http[^ ]*debian\\)$#\\1#p; s#^deb \\(http[^ ]*debian\\) bookworm main.*#\\1#p' \
             /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1");
        let mirror = match mirror.trim() {
            "" => "http://deb.debian.org/debian",
            m => m,
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        sh(&format!(
            "debootstrap --variant=minbase bookworm {root} {mirror} >/dev/null && \
             tar -C {root} -c . | {d} import - {IMAGE} >/dev/null",
            root = root.display()
        ));
    });
    IMAGE
}

/// Release binaries and the two packages, built once per test run by
/// `docker/debian/build.sh`; the directory holding the packages.
pub fn packages() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        sh("bash docker/debian/build.sh >/dev/null");
        repo().join("target/debian")
    })
    .clone()
}

/// One image build at a time: the two tests share base layers.
pub fn build_image(dockerfile: &str, target: Option<&str>, tag: &str, context: &str) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let target = target.map_or(String::new(), |t| format!("--target {t}"));
    sh(&format!(
        "{d} build -q -f {dockerfile} {target} --build-arg BASE_IMAGE={base} \
         --build-arg BINARIES=prebuilt -t {tag} {context} >/dev/null",
        d = docker(),
        base = base_image(),
    ));
}

/// A port nobody listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The batch ids an agent's log says it spooled ("cycle spooled" lines, JSON).
pub fn spooled_batch_ids(log: &str) -> std::collections::BTreeSet<String> {
    log.lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["msg"] == "cycle spooled")
        .map(|v| v["batch_id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until every batch the agent logged as spooled is among those the server ingested;
/// returns how many the agent spooled.
pub fn all_spooled_ingested(
    spooled: impl Fn() -> std::collections::BTreeSet<String>,
    ingested: impl Fn() -> std::collections::BTreeSet<String>,
) -> usize {
    wait_for(
        "every batch the agent spooled to be ingested",
        Duration::from_secs(120),
        || {
            let spooled = spooled();
            let missing = spooled.difference(&ingested()).count();
            (missing == 0 && !spooled.is_empty()).then_some(spooled.len())
        },
    )
}
