//! Issue 11, finding 8, end to end: the agent binary with its spool on a small file system
//! (a tmpfs this test mounts) through a server outage, a full disk, the server coming back
//! and the space coming back. The server must store every batch the agent spooled and did
//! not count as dropped — once — and nothing may be dead-lettered as damaged.
//!
//! Mounting needs root (CI runs as root); the test says so when it cannot.

mod common;

use common::{Server, agent_run, follow_log, wait_for};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use pganalytics_adapters::test_clusters::{monitored_cluster, release_binaries};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A tmpfs of a given size, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "pga-spool",
            ])
            .arg(dir.path())
            .output()
            .expect("running mount(8)");
        assert!(
            out.status.success(),
            "cannot mount a {size} tmpfs for the spool: {}\nThis test needs root (CI runs \
             as root): run it with sudo, e.g. `sudo -E cargo test -p pganalytics-agent --test full_disk`.",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self { dir }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// What the agent's log said.
#[derive(Default)]
struct Seen {
    /// Batch ids reported as spooled.
    spooled: BTreeSet<String>,
    /// Older batches dropped to make room, as reported with each spooled batch.
    dropped_oldest: u64,
    /// The "disk is full" lines (the OS error in each).
    full: Vec<String>,
    /// `F` for each "disk is full" line, `R` for each "has room again", in order.
    episodes: String,
    /// "cycle spooled" lines after the first "disk is full".
    spooled_while_full: u64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Text)]
    batch_id: String,
}

fn stored(db: &mut PgConnection) -> BTreeSet<String> {
    diesel::sql_query("SELECT batch_id::text FROM ingested_batches")
        .load::<Id>(db)
        .unwrap()
        .into_iter()
        .map(|r| r.batch_id)
        .collect()
}

#[test]
fn a_full_spool_disk_drops_oldest_first_counts_it_and_loses_nothing_else() {
    let disk = SmallDisk::mount("96k");
    let mut server = Server::start();
    let cluster = monitored_cluster(release_binaries(15), &[]);
    let state = tempfile::tempdir().unwrap();
    server.register(state.path(), "db1");
    let mut db = PgConnection::establish(&server.db.url).unwrap();
    let spool_dir: PathBuf = disk.path().join("spool");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut child = agent_run(state.path(), &cluster.url("postgres"))
        .env("PGANALYTICS_AGENT_SPOOL_DIR", &spool_dir)
        .spawn()
        .unwrap();
    let log = seen.clone();
    follow_log(child.stderr.take().unwrap(), move |v| {
        let mut s = log.lock().unwrap();
        match v["msg"].as_str() {
            Some("cycle spooled") => {
                s.spooled.insert(v["batch_id"].as_str().unwrap().to_owned());
                s.dropped_oldest += v["dropped_oldest"].as_u64().unwrap();
                if !s.full.is_empty() {
                    s.spooled_while_full += 1;
                }
            }
            Some(m) if m.starts_with("the spool's disk is full") => {
                s.full
                    .push(v["error"].as_str().unwrap_or_default().to_owned());
                s.episodes.push('F');
            }
            Some(m) if m.starts_with("the spool's disk has room again") => s.episodes.push('R'),
            _ => {}
        }
    });

    wait_for("a delivered batch", Duration::from_secs(60), || {
        !stored(&mut db).is_empty()
    });

    // The server goes away; the spool fills its 96 KiB and keeps taking new batches by
    // dropping the oldest.
    server.stop();
    wait_for("the disk to fill", Duration::from_secs(180), || {
        seen.lock().unwrap().spooled_while_full >= 5
    });

    // The server comes back while the disk is still full: the backlog is delivered (an
    // acknowledgement needs no space) and frees its space.
    let before = stored(&mut db).len();
    server.restart();
    wait_for("the backlog to arrive", Duration::from_secs(120), || {
        stored(&mut db).len() >= before + 5
    });

    // Space comes back.
    disk.resize("8m");
    wait_for(
        "every batch not dropped stored",
        Duration::from_secs(120),
        || {
            let got = stored(&mut db);
            let s = seen.lock().unwrap();
            let missing = s.spooled.iter().filter(|id| !got.contains(*id)).count() as u64;
            missing <= s.dropped_oldest && s.episodes.ends_with('R')
        },
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());

    let s = seen.lock().unwrap();
    let got = stored(&mut db);
    assert!(s.dropped_oldest > 0, "the disk never filled");
    // Each episode is logged when it starts and when it ends, not at every cycle: on this
    // 96 KiB disk the backlog may fill it again after the server came back, but a start is
    // always followed by an end before the next start.
    assert!(
        s.episodes.starts_with('F') && !s.episodes.contains("FF") && !s.episodes.contains("RR"),
        "episodes: {}",
        s.episodes
    );
    assert!(
        (s.full.len() as u64) < s.dropped_oldest,
        "{} full-disk lines for {} drops",
        s.full.len(),
        s.dropped_oldest
    );
    assert!(
        s.full.iter().all(|e| e.contains("No space left on device")),
        "the OS error is logged: {:?}",
        s.full
    );
    // A cycle spooled between the last check and SIGTERM may still wait in the spool for
    // the next start: it is kept, not lost.
    let left = {
        use pganalytics_ports::spool::Spool;
        let spool = pganalytics_adapters::spool::DiskSpool::open(
            &spool_dir,
            pganalytics_adapters::spool::SpoolOptions::default(),
        )
        .unwrap();
        spool.stats().records
    };
    let missing = s.spooled.iter().filter(|id| !got.contains(*id)).count() as u64;
    assert!(
        missing <= s.dropped_oldest + left,
        "{missing} spooled batches never stored, {} counted as dropped, {left} still spooled",
        s.dropped_oldest
    );
    assert!(
        left <= 2,
        "{left} batches left in the spool after the backlog was delivered"
    );
    let dead = state.path().join("dead-letters");
    let letters = std::fs::read_dir(&dead).map_or(0, |d| d.count());
    assert_eq!(
        letters, 0,
        "batches were dead-lettered (damaged spool records?)"
    );
    eprintln!(
        "spooled {} batches, {} stored, {} dropped oldest-first while the disk was full",
        s.spooled.len(),
        got.len(),
        s.dropped_oldest
    );
}
