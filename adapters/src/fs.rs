//! Files written whole: keys, certificates, tokens, key rings. One helper, so that every
//! secret on disk gets the same care.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `data` to `path` with permission bits `mode`, atomically: into a temporary file
/// beside it (created with `mode`, so a key is never readable by others, not even for a
/// moment), flushed to disk, renamed over `path`, and the directory flushed too. A crash
/// leaves the old file or the new one, never half of either.
///
/// # Errors
/// The I/O error, with the path it happened on.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let with_path = |p: &Path| {
        let p = p.to_owned();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(with_path(&tmp))?;
    // An existing temporary file keeps its old mode through `open`: set it explicitly.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(with_path(&tmp))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(with_path(&tmp))?;
    fs::rename(&tmp, path).map_err(with_path(path))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(with_path(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_file_is_replaced_whole_with_its_mode_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        write_atomic(&key, b"first", 0o600).unwrap();
        // A temporary file left by a crash, world-readable, does not leak its mode.
        fs::write(key.with_extension("tmp"), b"junk").unwrap();
        fs::set_permissions(key.with_extension("tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&key, b"second", 0o600).unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"second");
        assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
        assert!(!key.with_extension("tmp").exists());
        let err = write_atomic(&dir.path().join("no/such/dir/f"), b"x", 0o600).unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }
}
