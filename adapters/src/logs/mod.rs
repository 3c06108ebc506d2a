//! Tails PostgreSQL's server log: a file, or the newest file of a log directory, read
//! incrementally and followed through rotation, truncation and restarts.
//!
//! - **Position**: the file's path, inode and the offset after the last complete line are
//!   saved (atomically) in a state file by the caller once the events read up to there are
//!   spooled, so a restart neither loses nor, beyond the last unsaved stretch, repeats lines.
//! - **Rotation**: in a directory, when the current file is read to its end and a newer one
//!   exists, the rest of the current one is read and the next one started from its
//!   beginning. A fixed path renamed away (logrotate) is finished through the open
//!   descriptor, then the new file at the path is opened.
//! - **Truncation**: a file shorter than the saved offset (copytruncate) is read again from
//!   its beginning.
//! - **Bounded lines**: a line longer than `max_line` is cut there and the rest skipped
//!   without buffering, so a 1 GB line costs `max_line` bytes of memory.
//! - **First start**: without a saved position, reading starts at the end of the newest file
//!   (history is not replayed), or with `from_beginning` at the start of the oldest one.

pub mod catalog;

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub path: PathBuf,
    pub inode: u64,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct TailOptions {
    /// A log file, or a directory whose newest file (by modification time, among names
    /// ending in `suffix`) is the current log.
    pub path: PathBuf,
    /// `.log`, `.csv` or `.json` (the formats PostgreSQL's collector writes).
    pub suffix: String,
    pub max_line: usize,
    pub from_beginning: bool,
}

/// What one [`LogTailer::read`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub lines: usize,
    /// Lines cut at `max_line`.
    pub cut: usize,
    /// The file changed (rotation, truncation): a pending entry ends here.
    pub switched: bool,
}

/// Every event of the log at `path` (a file, or the files of a directory with `suffix`),
/// read from its beginning to its current end through `parser` (benchmarks, tests, and
/// tools that read a log once rather than follow it).
///
/// # Errors
/// When the log cannot be opened or read.
pub fn read_from_start(
    path: &Path,
    suffix: &str,
    parser: &mut pganalytics_domain::logs::LogParser,
) -> io::Result<Vec<pganalytics_domain::logs::LogEvent>> {
    let mut tailer = LogTailer::open(
        TailOptions {
            path: path.to_owned(),
            suffix: suffix.into(),
            max_line: 64 * 1024,
            from_beginning: true,
        },
        None,
    )?;
    let mut events = Vec::new();
    while tailer
        .read(10_000, |l| events.extend(parser.push(l)))?
        .lines
        > 0
    {}
    events.extend(parser.flush());
    Ok(events)
}

#[derive(Debug)]
struct Open {
    path: PathBuf,
    inode: u64,
    reader: BufReader<File>,
    /// Offset after the last complete line handed out.
    offset: u64,
}

#[derive(Debug)]
pub struct LogTailer {
    opts: TailOptions,
    open: Option<Open>,
    /// A line read up to the end of the file but not yet terminated (bounded).
    partial: Vec<u8>,
    /// Bytes of the partial line beyond `max_line`, skipped.
    partial_overflow: bool,
    partial_len: u64,
}

fn inode_of(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.ino())
}

impl LogTailer {
    /// Opens the log at `saved` when it still exists, else as a first start.
    pub fn open(opts: TailOptions, saved: Option<Position>) -> io::Result<Self> {
        let mut t = Self {
            opts,
            open: None,
            partial: Vec::new(),
            partial_overflow: false,
            partial_len: 0,
        };
        if let Some(pos) = saved
            && let Ok(file) = t.find_saved(&pos)
        {
            let len = file.metadata()?.len();
            let offset = if len >= pos.offset { pos.offset } else { 0 };
            t.start(file, pos.path, pos.inode, offset)?;
            return Ok(t);
        }
        // From the beginning: the oldest file first (the newer ones follow as rotations);
        // otherwise the end of the newest.
        let files = t.files()?;
        let first = if t.opts.from_beginning {
            files.first()
        } else {
            files.last()
        };
        if let Some((_, path)) = first {
            let file = File::open(path)?;
            let offset = if t.opts.from_beginning {
                0
            } else {
                file.metadata()?.len()
            };
            let inode = file.metadata()?.ino();
            t.start(file, path.clone(), inode, offset)?;
        }
        Ok(t)
    }

    /// The saved file, by path if its inode matches, else by inode in the directory
    /// (it was renamed by rotation).
    fn find_saved(&self, pos: &Position) -> io::Result<File> {
        if inode_of(&pos.path).ok() == Some(pos.inode) {
            return File::open(&pos.path);
        }
        if self.opts.path.is_dir() {
            for entry in fs::read_dir(&self.opts.path)?.flatten() {
                if entry.metadata().map(|m| m.ino()).ok() == Some(pos.inode) {
                    return File::open(entry.path());
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            "saved log file is gone",
        ))
    }

    fn start(&mut self, file: File, path: PathBuf, inode: u64, offset: u64) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        reader.seek(SeekFrom::Start(offset))?;
        self.open = Some(Open {
            path,
            inode,
            reader,
            offset,
        });
        self.partial.clear();
        self.partial_overflow = false;
        self.partial_len = 0;
        Ok(())
    }

    /// The log files of the directory, oldest first (by modification time, then name).
    fn files(&self) -> io::Result<Vec<(std::time::SystemTime, PathBuf)>> {
        if !self.opts.path.is_dir() {
            return Ok(if self.opts.path.is_file() {
                vec![(std::time::UNIX_EPOCH, self.opts.path.clone())]
            } else {
                Vec::new()
            });
        }
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&self.opts.path)?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(&self.opts.suffix))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        Ok(files)
    }

    fn newest(&self) -> io::Result<Option<PathBuf>> {
        Ok(self.files()?.pop().map(|(_, p)| p))
    }

    /// Where the next line starts: what the caller saves once the lines before are spooled.
    pub fn position(&self) -> Option<Position> {
        self.open.as_ref().map(|o| Position {
            path: o.path.clone(),
            inode: o.inode,
            offset: o.offset,
        })
    }

    /// Hands out up to `max_lines` complete lines available now, following rotation.
    pub fn read(
        &mut self,
        max_lines: usize,
        mut line: impl FnMut(&str),
    ) -> io::Result<ReadOutcome> {
        let mut out = ReadOutcome::default();
        if self.open.is_none() {
            match self.newest()? {
                Some(path) => {
                    let file = File::open(&path)?;
                    let inode = file.metadata()?.ino();
                    self.start(file, path, inode, 0)?;
                }
                None => return Ok(out),
            }
        }
        while out.lines < max_lines {
            if self.read_line(&mut line, &mut out)? {
                continue;
            }
            // At the end of the file: has it been truncated, replaced or superseded?
            if !self.next_file()? {
                break;
            }
            out.switched = true;
        }
        Ok(out)
    }

    /// Reads one complete line if there is one; false at the end of the file.
    fn read_line(
        &mut self,
        line: &mut impl FnMut(&str),
        out: &mut ReadOutcome,
    ) -> io::Result<bool> {
        let max = self.opts.max_line;
        let open = self.open.as_mut().expect("open");
        loop {
            let buf = open.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = max.saturating_sub(self.partial.len());
            if chunk.len() > room {
                self.partial_overflow = true;
            }
            self.partial
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = done.unwrap_or(buf.len());
            self.partial_len += used as u64;
            open.reader.consume(used);
            if done.is_some() {
                open.offset += self.partial_len;
                let text = String::from_utf8_lossy(&self.partial);
                line(text.trim_end_matches('\r'));
                out.lines += 1;
                out.cut += usize::from(self.partial_overflow);
                self.partial.clear();
                self.partial_overflow = false;
                self.partial_len = 0;
                return Ok(true);
            }
        }
    }

    /// At the end of the current file: switches to what comes next, if anything.
    fn next_file(&mut self) -> io::Result<bool> {
        let (path, inode, offset) = {
            let o = self.open.as_ref().expect("open");
            (o.path.clone(), o.inode, o.offset + self.partial_len)
        };
        match fs::metadata(&path) {
            Ok(m) if m.ino() == inode && m.len() < offset => {
                // Truncated in place (copytruncate): read it again from the start.
                let file = File::open(&path)?;
                self.start(file, path, inode, 0)?;
                return Ok(true);
            }
            Ok(m) if m.ino() != inode && !self.opts.path.is_dir() => {
                // Renamed away and recreated at the same path: we read the old one to its
                // end through the open descriptor; now the new one.
                let file = File::open(&path)?;
                self.start(file, path, m.ino(), 0)?;
                return Ok(true);
            }
            _ => {}
        }
        if self.opts.path.is_dir() {
            let files = self.files()?;
            let current = files
                .iter()
                .position(|(_, p)| inode_of(p).ok() == Some(inode));
            let next = match current {
                Some(i) => files.get(i + 1),
                None => files.last(),
            };
            if let Some((_, next)) = next {
                let file = File::open(next)?;
                let ino = file.metadata()?.ino();
                if ino != inode {
                    self.start(file, next.clone(), ino, 0)?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Saves `pos` to `state_file` atomically (temp file, fsync, rename).
    pub fn save(state_file: &Path, pos: &Position) -> io::Result<()> {
        let tmp = state_file.with_extension("tmp");
        let data = serde_json::to_vec(pos).map_err(io::Error::other)?;
        {
            let mut f = File::create(&tmp)?;
            io::Write::write_all(&mut f, &data)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, state_file)
    }

    pub fn load(state_file: &Path) -> Option<Position> {
        serde_json::from_slice(&fs::read(state_file).ok()?).ok()
    }
}

#[cfg(test)]
mod tests;
