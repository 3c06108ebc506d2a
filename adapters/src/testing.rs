//! Test support: a private PostgreSQL cluster per test process and a fresh database per
//! test, cloned from a migrated template and dropped when the test ends, so tests run in
//! parallel without sharing state.
//!
//! Clusters live in `$TMPDIR/pganalytics-test/<pid>-<n>`; a run that was killed leaves its
//! directory behind, and the next run removes it (the postmaster itself died with the run,
//! through its parent-death signal). Missing server binaries fail the test with the fix.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::local_postgres::{ClusterOptions, LocalCluster, PgBinaries, reap_stale_dirs};

const TEMPLATE: &str = "pga_template";
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Where test clusters live.
pub fn test_root() -> PathBuf {
    std::env::temp_dir().join("pganalytics-test")
}

/// A fresh directory for a private cluster of this process.
pub fn cluster_dir() -> PathBuf {
    let root = test_root();
    reap_stale_dirs(&root);
    root.join(format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Binaries from `PGANALYTICS_PG_BINDIR` or the usual places; panics with the fix if none.
pub fn binaries() -> PgBinaries {
    let explicit = std::env::var_os("PGANALYTICS_PG_BINDIR").map(PathBuf::from);
    PgBinaries::locate(explicit.as_deref()).unwrap_or_else(|e| panic!("{e}"))
}

/// Options for a throwaway test cluster: no fsync, room for many parallel tests.
pub fn test_cluster_options() -> ClusterOptions {
    let mut opts = ClusterOptions::new(cluster_dir(), binaries());
    opts.fsync = false;
    opts.max_connections = 300;
    opts
}

fn shared() -> &'static LocalCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = LocalCluster::start(test_cluster_options())
            .unwrap_or_else(|e| panic!("test cluster: {e}"));
        let admin = cluster.url("postgres");
        let template = cluster.url(TEMPLATE);
        // Migrations use a blocking connection wrapper, which must not run on an async
        // worker thread: do the one-time set-up on a plain thread.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(crate::postgres::ensure_database(&admin, TEMPLATE, None))
                .expect("create template");
            crate::postgres::migrate(&template).expect("migrate template");
        })
        .join()
        .expect("template set-up");
        cluster
    })
}

/// A database of its own for one test, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a migrated database on the shared test cluster.
    pub fn create() -> Self {
        let cluster = shared();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin_url = cluster.url("postgres");
        let (a, n) = (admin_url.clone(), name.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(crate::postgres::ensure_database(&a, &n, Some(TEMPLATE)))
                .expect("create test database");
        })
        .join()
        .expect("create test database");
        Self {
            url: cluster.url(&name),
            name,
            admin_url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Waits until `ok` holds, polling, and fails the test with `what` after `limit`.
pub fn wait_until(what: &str, limit: std::time::Duration, ok: impl FnMut() -> bool) {
    assert!(
        poll_until(limit, ok),
        "timed out after {limit:?} waiting for {what}"
    );
}

/// Polls `ok` until it holds (true) or `limit` has passed (false): for a test that says
/// more than [`wait_until`] when it gives up.
pub fn poll_until(limit: std::time::Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A commented example configuration (every setting as `#key = value` or `#[table]`, prose
/// as `# text`) with its settings uncommented: what the packages' configuration files are
/// checked with.
pub fn uncommented(example: &str) -> String {
    example
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
