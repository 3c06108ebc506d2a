//! Liveness for container health checks: the daemon's main loop touches
//! `<state_dir>/heartbeat` on every turn (at least every few seconds); `pganalytics-agent
//! health` is healthy while that file is fresh. A server that cannot be reached does not
//! make the agent unhealthy: the spool keeps the batches, and restarting would not help.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// How old the heartbeat may be: several turns of the loop, which waits at most 5 s.
pub const MAX_AGE: Duration = Duration::from_secs(60);

pub fn heartbeat_file(state_dir: &Path) -> PathBuf {
    state_dir.join("heartbeat")
}

/// Records that the daemon's loop turned at `now`.
pub fn beat(state_dir: &Path, now: OffsetDateTime) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(heartbeat_file(state_dir))?
        .set_modified(SystemTime::from(now))
}

/// Whether a heartbeat last written at `at` is fresh at `now` (a clock set back counts
/// as fresh).
pub fn fresh(at: SystemTime, now: SystemTime) -> bool {
    now.duration_since(at).map_or(true, |age| age <= MAX_AGE)
}

/// `pganalytics-agent health`.
pub fn run(state_dir: &Path, now: OffsetDateTime) -> anyhow::Result<bool> {
    let file = heartbeat_file(state_dir);
    let at = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .with_context(|| format!("no heartbeat in {}: is the daemon running?", file.display()))?;
    let now = SystemTime::from(now);
    if fresh(at, now) {
        eprintln!("healthy");
        Ok(true)
    } else {
        let age = now.duration_since(at).unwrap_or_default().as_secs();
        eprintln!("unhealthy: the daemon's last heartbeat is {age} s old");
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_fresh_for_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert!(run(dir.path(), at).is_err(), "no heartbeat yet");
        beat(dir.path(), at).unwrap();
        assert!(run(dir.path(), at + time::Duration::seconds(60)).unwrap());
        assert!(!run(dir.path(), at + time::Duration::seconds(61)).unwrap());
        // A clock set back.
        assert!(run(dir.path(), at - time::Duration::seconds(30)).unwrap());
    }
}
