use pganalytics_domain::collect::CollectedRows;
use procfs::process::Process;
use serde_json::json;
use std::path::{Path, PathBuf};

const COLUMNS: &[&str] = &[
    "mountpoint",
    "device",
    "fstype",
    "role",
    "total_bytes",
    "used_bytes",
    "available_bytes",
    "inodes_total",
    "inodes_used",
    "inodes_available",
];

/// File systems that hold no data worth watching (kernel interfaces, memory-backed, images).
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devtmpfs",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "nsfs",
    "binfmt_misc",
    "rpc_pipefs",
    "efivarfs",
    "squashfs",
    "tmpfs",
    "ramfs",
];

/// What a file system holds for PostgreSQL, so dashboards can single it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskRole {
    DataDirectory,
    Wal,
}

impl DiskRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::DataDirectory => "data_directory",
            Self::Wal => "wal",
        }
    }
}

/// The mount point holding `path`: the longest mount point that is a prefix of it.
fn mount_of<'a>(path: &Path, mounts: &'a [PathBuf]) -> Option<&'a PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    mounts
        .iter()
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

/// Every real file system: size and inodes with `statvfs`, roles from `roles`.
pub(super) fn read(roles: &[(PathBuf, DiskRole)]) -> procfs::ProcResult<CollectedRows> {
    let mounts: Vec<_> = Process::myself()?
        .mountinfo()?
        .into_iter()
        .filter(|m| !PSEUDO.contains(&m.fs_type.as_str()))
        .collect();
    let points: Vec<PathBuf> = mounts.iter().map(|m| m.mount_point.clone()).collect();
    let mut out = CollectedRows::new("disk_usage", COLUMNS);
    for m in &mounts {
        // A mount we may not stat (another namespace's, permissions) is skipped, not fatal.
        let Ok(st) = nix::sys::statvfs::statvfs(&m.mount_point) else {
            continue;
        };
        if st.blocks() == 0 {
            continue;
        }
        let here: Vec<&str> = roles
            .iter()
            .filter(|(p, _)| mount_of(p, &points) == Some(&m.mount_point))
            .map(|(_, r)| r.as_str())
            .collect();
        let role = if here.is_empty() {
            "other".to_owned()
        } else {
            here.join("+")
        };
        let frag = st.fragment_size();
        out.push(vec![
            json!(m.mount_point.display().to_string()),
            json!(m.mount_source),
            json!(m.fs_type),
            json!(role),
            json!((st.blocks() * frag) as f64),
            json!(((st.blocks() - st.blocks_free()) * frag) as f64),
            json!((st.blocks_available() * frag) as f64),
            json!(st.files() as f64),
            json!(st.files().saturating_sub(st.files_free()) as f64),
            json!(st.files_available() as f64),
        ]);
    }
    Ok(out)
}
