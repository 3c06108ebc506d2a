//! A durable, bounded, on-disk queue of batches (the agent's spool).
//!
//! Layout: one directory holding segment files named after the id of their first record
//! (`00000000000000000042.seg`) and a file `acked` with the highest acknowledged id.
//!
//! Record format, little-endian: `len: u32` (payload bytes) · `crc: u32` (CRC-32 of the id
//! and the payload) · `id: u64` · payload. Ids increase by one per record, across segments.
//!
//! - **Append**: the record goes to the newest segment and the file is fsynced before
//!   `append` returns (the directory too when a segment is created), so a record the
//!   collector was told is spooled survives a crash. A segment is closed at
//!   `segment_bytes`; the next record starts a new one.
//! - **Delete after ack**: `ack(id)` writes `acked` atomically (temp file, fsync, rename,
//!   fsync the directory); a segment is deleted once every record in it is acknowledged
//!   and it is not the one being written.
//! - **Bound**: when a new record would take the spool past `max_bytes`, whole segments are
//!   dropped oldest first, never the newest, and their unacknowledged records counted.
//! - **Recovery**: opening scans every segment and checks each record's length and
//!   checksum. A short or damaged tail of the newest segment is a torn write from a crash:
//!   the file is truncated there and counted. Damage inside an older segment ends that
//!   segment (record boundaries after it cannot be trusted); the rest is counted as damaged
//!   and the spool goes on with the next segment.
//!
//! Rejected: one file per batch (a directory of tens of thousands of files, an fsync of
//! the directory per append) and SQLite (a dependency and a write amplification the agent
//! does not need for a FIFO).

mod dead_letters;

use pganalytics_ports::spool::{Spool, SpoolError, SpoolStats, SpooledRecord};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use dead_letters::DeadLetterDir;

const HEADER: u64 = 16;

#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub max_bytes: u64,
    pub segment_bytes: u64,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            segment_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Where a record sits in its segment.
#[derive(Debug, Clone, Copy)]
struct RecordAt {
    id: u64,
    /// Offset of the header.
    offset: u64,
    len: u32,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    records: Vec<RecordAt>,
    bytes: u64,
}

impl Segment {
    fn last_id(&self) -> Option<u64> {
        self.records.last().map(|r| r.id)
    }
}

/// What a scan of a segment found.
struct Scanned {
    records: Vec<RecordAt>,
    /// Length of the valid prefix.
    valid: u64,
    /// Whether anything after the valid prefix was damaged or cut short.
    damaged: bool,
}

#[derive(Debug)]
pub struct DiskSpool {
    dir: PathBuf,
    opts: SpoolOptions,
    segments: Vec<Segment>,
    acked: u64,
    next_id: u64,
    dropped: u64,
    damaged: u64,
}

fn io(e: std::io::Error) -> SpoolError {
    SpoolError::Io(Box::new(e))
}

fn crc(id: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads a segment's valid records.
fn scan(path: &Path) -> std::io::Result<Scanned> {
    let data = fs::read(path)?;
    let mut records: Vec<RecordAt> = Vec::new();
    let mut off = 0usize;
    while off < data.len() {
        let start = off + HEADER as usize;
        let record = data.get(off..start).and_then(|header| {
            let len = u32::from_le_bytes(header[0..4].try_into().ok()?);
            let sum = u32::from_le_bytes(header[4..8].try_into().ok()?);
            let id = u64::from_le_bytes(header[8..16].try_into().ok()?);
            let payload = data.get(start..start + len as usize)?;
            let in_order = records.last().is_none_or(|prev| id == prev.id + 1);
            (crc(id, payload) == sum && in_order).then_some(RecordAt {
                id,
                offset: off as u64,
                len,
            })
        });
        let Some(record) = record else {
            return Ok(Scanned {
                records,
                valid: off as u64,
                damaged: true,
            });
        };
        records.push(record);
        off = start + record.len as usize;
    }
    Ok(Scanned {
        records,
        valid: off as u64,
        damaged: false,
    })
}

impl DiskSpool {
    /// Opens (creating) the spool in `dir`, recovering from a crash if there was one.
    pub fn open(dir: impl Into<PathBuf>, opts: SpoolOptions) -> Result<Self, SpoolError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io)?;
        let acked = fs::read_to_string(dir.join("acked"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .map_err(io)?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some((name.strip_suffix(".seg")?.parse().ok()?, e.path()))
            })
            .collect();
        names.sort();
        let mut spool = Self {
            dir,
            opts,
            segments: Vec::new(),
            acked,
            next_id: acked + 1,
            dropped: 0,
            damaged: 0,
        };
        let count = names.len();
        for (i, (_, path)) in names.into_iter().enumerate() {
            let Scanned {
                records,
                valid,
                damaged,
            } = scan(&path).map_err(io)?;
            if damaged {
                spool.damaged += 1;
                if i + 1 == count {
                    // A torn write at the end of the newest segment: cut it off.
                    let f = OpenOptions::new().write(true).open(&path).map_err(io)?;
                    f.set_len(valid).map_err(io)?;
                    f.sync_all().map_err(io)?;
                }
            }
            if let Some(last) = records.last() {
                spool.next_id = spool.next_id.max(last.id + 1);
            }
            spool.segments.push(Segment {
                path,
                records,
                bytes: valid,
            });
        }
        spool.delete_acked_segments()?;
        Ok(spool)
    }

    fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    fn new_segment(&mut self) -> Result<(), SpoolError> {
        let path = self.dir.join(format!("{:020}.seg", self.next_id));
        File::create(&path).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        self.segments.push(Segment {
            path,
            records: Vec::new(),
            bytes: 0,
        });
        Ok(())
    }

    /// Drops the oldest segments (never the newest) until `extra` more bytes fit.
    fn make_room(&mut self, extra: u64) -> Result<(), SpoolError> {
        while self.total_bytes() + extra > self.opts.max_bytes && self.segments.len() > 1 {
            let oldest = self.segments.remove(0);
            self.dropped += oldest.records.iter().filter(|r| r.id > self.acked).count() as u64;
            fs::remove_file(&oldest.path).map_err(io)?;
        }
        Ok(())
    }

    fn delete_acked_segments(&mut self) -> Result<(), SpoolError> {
        while self.segments.len() > 1
            && self.segments[0]
                .last_id()
                .is_none_or(|last| last <= self.acked)
        {
            let done = self.segments.remove(0);
            fs::remove_file(&done.path).map_err(io)?;
        }
        Ok(())
    }
}

impl Spool for DiskSpool {
    fn append(&mut self, payload: &[u8]) -> Result<u64, SpoolError> {
        let size = HEADER + payload.len() as u64;
        // Larger than half the spool could only fit by dropping everything else.
        if size > self.opts.max_bytes / 2 || payload.len() > u32::MAX as usize {
            return Err(SpoolError::TooLarge {
                limit: self.opts.max_bytes / 2 - HEADER,
            });
        }
        let full = self
            .segments
            .last()
            .is_none_or(|s| s.bytes > 0 && s.bytes + size > self.opts.segment_bytes);
        if full {
            self.new_segment()?;
        }
        self.make_room(size)?;
        let id = self.next_id;
        let seg = self
            .segments
            .last_mut()
            .ok_or_else(|| io(std::io::Error::other("no segment")))?;
        let mut f = OpenOptions::new()
            .append(true)
            .open(&seg.path)
            .map_err(io)?;
        let mut record = Vec::with_capacity(size as usize);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc(id, payload).to_le_bytes());
        record.extend_from_slice(&id.to_le_bytes());
        record.extend_from_slice(payload);
        f.write_all(&record).map_err(io)?;
        f.sync_data().map_err(io)?;
        seg.records.push(RecordAt {
            id,
            offset: seg.bytes,
            len: payload.len() as u32,
        });
        seg.bytes += size;
        self.next_id += 1;
        Ok(id)
    }

    fn oldest(&mut self) -> Result<Option<SpooledRecord>, SpoolError> {
        for seg in &self.segments {
            if let Some(at) = seg.records.iter().find(|r| r.id > self.acked) {
                let mut f = File::open(&seg.path).map_err(io)?;
                f.seek(SeekFrom::Start(at.offset + HEADER)).map_err(io)?;
                let mut payload = vec![0; at.len as usize];
                f.read_exact(&mut payload).map_err(io)?;
                return Ok(Some(SpooledRecord { id: at.id, payload }));
            }
        }
        Ok(None)
    }

    fn ack(&mut self, id: u64) -> Result<(), SpoolError> {
        if id <= self.acked {
            return Ok(());
        }
        let tmp = self.dir.join("acked.tmp");
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(id.to_string().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, self.dir.join("acked")).map_err(io)?;
        sync_dir(&self.dir).map_err(io)?;
        self.acked = id;
        self.delete_acked_segments()
    }

    fn stats(&self) -> SpoolStats {
        let records = self
            .segments
            .iter()
            .flat_map(|s| &s.records)
            .filter(|r| r.id > self.acked)
            .count() as u64;
        SpoolStats {
            records,
            bytes: self.total_bytes(),
            dropped_records: self.dropped,
            damaged_records: self.damaged,
        }
    }
}

#[cfg(test)]
mod tests;
