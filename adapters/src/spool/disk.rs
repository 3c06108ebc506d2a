//! The file operations the spool makes, behind a trait so that its model test can run it
//! on a file system that runs out of space at any write ([`LimitedDisk`]).

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub trait Disk: Send + Sync + Debug {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// A whole file; `NotFound` when there is none.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Creates an empty file (replacing none) and makes its name durable.
    fn create(&self, path: &Path) -> io::Result<()>;
    /// Writes `data` at `offset` of an existing file and makes it durable. On an error any
    /// prefix of `data` may have been written.
    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Cuts a file to `len` bytes, durably.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsDisk;

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Disk for OsDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(fs::read_dir(dir)?.flatten().map(|e| e.path()).collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        File::open(path)?.read_exact_at(buf, offset)
    }

    fn create(&self, path: &Path) -> io::Result<()> {
        OpenOptions::new().write(true).create_new(true).open(path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.write_all_at(data, offset)?;
        f.sync_data()
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}

/// The real file system with a capacity: a write that would take the files past it writes
/// what fits, as a full disk does, and fails with `ENOSPC`; creating a file on a full disk
/// fails too. Overwriting bytes a file already has needs no space. For tests.
#[cfg(test)]
#[derive(Debug)]
pub struct LimitedDisk {
    capacity: std::sync::Mutex<u64>,
}

#[cfg(test)]
impl LimitedDisk {
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity: std::sync::Mutex::new(capacity),
        }
    }

    pub fn set_capacity(&self, bytes: u64) {
        *self.capacity.lock().unwrap_or_else(|p| p.into_inner()) = bytes;
    }

    fn capacity(&self) -> u64 {
        *self.capacity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes the files of `dir` take.
    fn used(dir: &Path) -> u64 {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    fn no_space() -> io::Error {
        io::Error::from_raw_os_error(28)
    }
}

#[cfg(test)]
impl Disk for LimitedDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsDisk.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        OsDisk.list(dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsDisk.read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        OsDisk.read_at(path, offset, buf)
    }

    fn create(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        if Self::used(dir) >= self.capacity() {
            return Err(Self::no_space());
        }
        OsDisk.create(path)
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let len = fs::metadata(path)?.len();
        let end = offset + data.len() as u64;
        let growth = end.saturating_sub(len);
        let free = self.capacity().saturating_sub(Self::used(dir));
        if growth <= free {
            return OsDisk.write_at(path, offset, data);
        }
        // What fits reaches the disk; the rest does not.
        let fits = usize::try_from((len + free).saturating_sub(offset)).unwrap_or(usize::MAX);
        OsDisk.write_at(path, offset, &data[..fits.min(data.len())])?;
        Err(Self::no_space())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let grows = len.saturating_sub(fs::metadata(path)?.len());
        if grows > self.capacity().saturating_sub(Self::used(dir)) {
            return Err(Self::no_space());
        }
        OsDisk.truncate(path, len)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        OsDisk.remove(path)
    }
}
