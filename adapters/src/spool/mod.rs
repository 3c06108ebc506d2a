//! A durable, bounded, on-disk queue of batches (the agent's spool).
//!
//! Layout: one directory holding segment files named after the id of their first record
//! (`00000000000000000042.seg`) and a file `acked` with the highest acknowledged id.
//!
//! Record format, little-endian: `len: u32` (payload bytes) · `crc: u32` (CRC-32 of the id
//! and the payload) · `id: u64` · payload. Ids increase across records and segments.
//!
//! - **Append**: the record is written at the segment's known end (never "wherever the
//!   file ends") and fsynced before `append` returns (the directory too when a segment is
//!   created), so a record the collector was told is spooled survives a crash. A failed
//!   write is cut off again at once: the segment is exactly as it was, and later records
//!   are never written after a torn one. A segment is closed at `segment_bytes` (1 MiB by
//!   default); the next record starts a new one.
//! - **Ack**: `acked` is two fixed 16-byte slots (id and checksum) overwritten in place in
//!   turn and fsynced, so acknowledging needs no new disk space (on ext4, XFS, tmpfs…) and
//!   a torn slot leaves the other. A segment is deleted as soon as every record in it is
//!   acknowledged — the one being written too — so delivered batches free their space
//!   at once, not when a segment fills.
//! - **Bound**: when a new record would take the spool past `max_bytes`, whole segments are
//!   dropped oldest first, never the newest, and their unacknowledged records counted.
//! - **Full disk**: when the file system refuses a write for lack of space (`ENOSPC`,
//!   `EDQUOT`), the oldest segments are dropped, counted, until the record fits; only when
//!   nothing is left to drop does `append` fail with [`SpoolError::NoSpace`] (that record
//!   counted as dropped too). [`Appended::pressure`] carries the OS error whenever
//!   records were dropped for space, for the caller to log once per episode.
//! - **Recovery**: opening scans every segment and checks each record's length and
//!   checksum. Damage (a torn write from a crash, corruption) is skipped by looking for the
//!   next record whose header and checksum hold, so no readable record is ever discarded;
//!   each damaged stretch is counted. Bytes after the last good record of the newest
//!   segment are cut off.
//!
//! Rejected: one file per batch (a directory of tens of thousands of files, an fsync of
//! the directory per append) and SQLite (a dependency and a write amplification the agent
//! does not need for a FIFO).

mod dead_letters;
mod disk;

use pganalytics_ports::spool::{Appended, Spool, SpoolError, SpoolStats, SpooledRecord};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

pub use dead_letters::DeadLetterDir;
#[cfg(test)]
pub(crate) use disk::LimitedDisk;
pub use disk::{Disk, OsDisk};

const HEADER: u64 = 16;
/// The `acked` file: two slots of `id: u64` · `crc: u32` · 4 zero bytes.
const ACK_SLOT: usize = 16;

#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub max_bytes: u64,
    pub segment_bytes: u64,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            segment_bytes: 1024 * 1024,
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
    /// Where the next record goes: the end of the last good record.
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
    /// The end of the last good record.
    end: u64,
    /// Damaged stretches skipped.
    damaged: u64,
}

#[derive(Debug)]
pub struct DiskSpool {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    opts: SpoolOptions,
    segments: Vec<Segment>,
    acked: u64,
    /// Acknowledgements written so far: which `acked` slot is next.
    ack_writes: u64,
    next_id: u64,
    dropped: u64,
    damaged: u64,
}

fn io(e: io::Error) -> SpoolError {
    SpoolError::Io(Box::new(e))
}

/// Whether the file system refused a write for lack of space.
fn out_of_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

fn crc(id: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// The record whose header starts at `off`, when its id is one that can come next (from
/// `lowest` on) and its length and checksum hold. The id is checked first, so skipping
/// over damage rarely computes a checksum.
fn record_at(data: &[u8], off: usize, lowest: u64) -> Option<RecordAt> {
    let header = data.get(off..off + HEADER as usize)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?);
    let sum = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let id = u64::from_le_bytes(header[8..16].try_into().ok()?);
    if id < lowest || id - lowest > u64::from(u32::MAX) {
        return None;
    }
    let start = off + HEADER as usize;
    let payload = data.get(start..start.checked_add(len as usize)?)?;
    (crc(id, payload) == sum).then_some(RecordAt {
        id,
        offset: off as u64,
        len,
    })
}

/// Reads a segment's good records (ids from `first` on), skipping damaged stretches.
fn scan(data: &[u8], first: u64) -> Scanned {
    let mut records: Vec<RecordAt> = Vec::new();
    let (mut off, mut end, mut damaged) = (0usize, 0u64, 0u64);
    let mut in_damage = false;
    while off < data.len() {
        let lowest = records.last().map_or(first, |r| r.id + 1);
        match record_at(data, off, lowest) {
            Some(r) => {
                records.push(r);
                off += HEADER as usize + r.len as usize;
                end = off as u64;
                in_damage = false;
            }
            None => {
                // Look for the next good record one byte on.
                if !in_damage {
                    damaged += 1;
                    in_damage = true;
                }
                off += 1;
            }
        }
    }
    Scanned {
        records,
        end,
        damaged,
    }
}

fn encode_ack(id: u64) -> [u8; ACK_SLOT] {
    let mut slot = [0u8; ACK_SLOT];
    slot[0..8].copy_from_slice(&id.to_le_bytes());
    slot[8..12].copy_from_slice(&crc(id, b"acked").to_le_bytes());
    slot
}

/// The highest valid slot of an `acked` file, or the decimal text of the older format.
fn decode_acked(data: &[u8]) -> Option<u64> {
    if data.len() != 2 * ACK_SLOT {
        return std::str::from_utf8(data).ok()?.trim().parse().ok();
    }
    data.chunks_exact(ACK_SLOT)
        .filter_map(|slot| {
            let id = u64::from_le_bytes(slot[0..8].try_into().ok()?);
            let sum = u32::from_le_bytes(slot[8..12].try_into().ok()?);
            (crc(id, b"acked") == sum).then_some(id)
        })
        .max()
}

impl DiskSpool {
    /// Opens (creating) the spool in `dir`, recovering from a crash if there was one.
    pub fn open(dir: impl Into<PathBuf>, opts: SpoolOptions) -> Result<Self, SpoolError> {
        Self::open_on(Arc::new(OsDisk), dir, opts)
    }

    /// The same on another [`Disk`].
    pub fn open_on(
        disk: Arc<dyn Disk>,
        dir: impl Into<PathBuf>,
        opts: SpoolOptions,
    ) -> Result<Self, SpoolError> {
        let dir = dir.into();
        disk.create_dir_all(&dir).map_err(io)?;
        let mut spool = Self {
            disk,
            dir,
            opts,
            segments: Vec::new(),
            acked: 0,
            ack_writes: 0,
            next_id: 1,
            dropped: 0,
            damaged: 0,
        };
        spool.open_acked()?;
        let mut names: Vec<(u64, PathBuf)> = spool
            .disk
            .list(&spool.dir)
            .map_err(io)?
            .into_iter()
            .filter_map(|p| {
                let first = p
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()?;
                Some((first, p))
            })
            .collect();
        names.sort();
        let count = names.len();
        for (i, (first, path)) in names.into_iter().enumerate() {
            let data = spool.disk.read(&path).map_err(io)?;
            // Ids only grow: a segment's records come after the previous segment's.
            let floor = spool.segments.last().and_then(Segment::last_id);
            let found = scan(&data, floor.map_or(first, |f| first.max(f + 1)));
            spool.damaged += found.damaged;
            if i + 1 == count && found.end < data.len() as u64 {
                // Appending goes on at the end of the last good record.
                spool.disk.truncate(&path, found.end).map_err(io)?;
            }
            // A segment is named after the id its first record has or will have.
            spool.next_id = spool.next_id.max(first);
            if let Some(last) = found.records.last() {
                spool.next_id = spool.next_id.max(last.id + 1);
            }
            spool.segments.push(Segment {
                path,
                records: found.records,
                bytes: found.end,
            });
        }
        spool.delete_acked_segments()?;
        Ok(spool)
    }

    fn acked_path(&self) -> PathBuf {
        self.dir.join("acked")
    }

    /// Reads `acked`, creating it (or rewriting one of the older text format) with its two
    /// slots, so that acknowledging later only overwrites bytes the file already has.
    fn open_acked(&mut self) -> Result<(), SpoolError> {
        let path = self.acked_path();
        let data = match self.disk.read(&path) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        self.acked = data.as_deref().and_then(decode_acked).unwrap_or(0);
        self.next_id = self.acked + 1;
        if let Some(d) = data.as_ref().filter(|d| d.len() == 2 * ACK_SLOT) {
            // The next acknowledgement overwrites the older slot, never the newest.
            self.ack_writes = u64::from(d[..ACK_SLOT] == encode_ack(self.acked));
            return Ok(());
        }
        if data.is_none() {
            self.disk.create(&path).map_err(io)?;
        }
        let mut both = [0u8; 2 * ACK_SLOT];
        both[..ACK_SLOT].copy_from_slice(&encode_ack(self.acked));
        both[ACK_SLOT..].copy_from_slice(&encode_ack(self.acked));
        self.disk.write_at(&path, 0, &both).map_err(io)?;
        self.disk.truncate(&path, 2 * ACK_SLOT as u64).map_err(io)
    }

    fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    fn new_segment(&mut self) -> io::Result<()> {
        let path = self.dir.join(format!("{:020}.seg", self.next_id));
        self.disk.create(&path)?;
        self.segments.push(Segment {
            path,
            records: Vec::new(),
            bytes: 0,
        });
        Ok(())
    }

    /// Removes the oldest segment, counting its unacknowledged records as dropped.
    fn drop_oldest(&mut self) -> Result<(), SpoolError> {
        let oldest = self.segments.remove(0);
        self.dropped += oldest.records.iter().filter(|r| r.id > self.acked).count() as u64;
        match self.disk.remove(&oldest.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    /// Drops the oldest segments (never the newest) until `extra` more bytes fit.
    fn make_room(&mut self, extra: u64) -> Result<(), SpoolError> {
        while self.total_bytes() + extra > self.opts.max_bytes && self.segments.len() > 1 {
            self.drop_oldest()?;
        }
        Ok(())
    }

    /// Deletes every segment all of whose records are acknowledged (the newest too when it
    /// has any: the next append starts a new one).
    fn delete_acked_segments(&mut self) -> Result<(), SpoolError> {
        while let Some(first) = self.segments.first() {
            let done = match first.last_id() {
                Some(last) => last <= self.acked,
                None => self.segments.len() > 1,
            };
            if !done {
                break;
            }
            let done = self.segments.remove(0);
            self.disk.remove(&done.path).map_err(io)?;
        }
        Ok(())
    }

    /// Writes `record` as record `id` at the end of the newest segment, starting one when
    /// needed. On a failure the segment is as it was.
    fn write_record(&mut self, id: u64, record: &[u8]) -> io::Result<()> {
        let size = record.len() as u64;
        let full = self
            .segments
            .last()
            .is_none_or(|s| s.bytes > 0 && s.bytes + size > self.opts.segment_bytes);
        if full {
            self.new_segment()?;
        }
        let seg = self
            .segments
            .last_mut()
            .ok_or_else(|| io::Error::other("no segment"))?;
        if let Err(e) = self.disk.write_at(&seg.path, seg.bytes, record) {
            // Cutting a file shorter needs no space; should it fail anyway, the next write
            // still goes to `seg.bytes` and recovery skips what is left.
            let _ = self.disk.truncate(&seg.path, seg.bytes);
            return Err(e);
        }
        seg.records.push(RecordAt {
            id,
            offset: seg.bytes,
            len: (size - HEADER) as u32,
        });
        seg.bytes += size;
        Ok(())
    }
}

impl Spool for DiskSpool {
    fn append(&mut self, payload: &[u8]) -> Result<Appended, SpoolError> {
        let size = HEADER + payload.len() as u64;
        // Larger than half the spool could only fit by dropping everything else.
        if size > self.opts.max_bytes / 2 || payload.len() > u32::MAX as usize {
            return Err(SpoolError::TooLarge {
                limit: self.opts.max_bytes / 2 - HEADER,
            });
        }
        let dropped_before = self.dropped;
        self.make_room(size)?;
        let id = self.next_id;
        let mut record = Vec::with_capacity(size as usize);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc(id, payload).to_le_bytes());
        record.extend_from_slice(&id.to_le_bytes());
        record.extend_from_slice(payload);
        let mut pressure = None;
        loop {
            match self.write_record(id, &record) {
                Ok(()) => break,
                Err(e) if out_of_space(&e) => {
                    pressure = Some(e.to_string());
                    if self.segments.iter().all(|s| s.records.is_empty()) {
                        // Nothing older is left to make room with: this record is lost.
                        self.dropped += 1;
                        return Err(SpoolError::NoSpace(Box::new(e)));
                    }
                    // Oldest first; an empty newest segment is dropped too (its file may
                    // be what is missing room).
                    self.drop_oldest()?;
                }
                Err(e) => return Err(io(e)),
            }
        }
        self.next_id += 1;
        Ok(Appended {
            id,
            dropped: self.dropped - dropped_before,
            pressure,
        })
    }

    fn oldest(&mut self) -> Result<Option<SpooledRecord>, SpoolError> {
        for seg in &self.segments {
            if let Some(at) = seg.records.iter().find(|r| r.id > self.acked) {
                let mut payload = vec![0; at.len as usize];
                self.disk
                    .read_at(&seg.path, at.offset + HEADER, &mut payload)
                    .map_err(io)?;
                return Ok(Some(SpooledRecord { id: at.id, payload }));
            }
        }
        Ok(None)
    }

    fn ack(&mut self, id: u64) -> Result<(), SpoolError> {
        if id <= self.acked {
            return Ok(());
        }
        let slot = (self.ack_writes % 2) as usize * ACK_SLOT;
        self.disk
            .write_at(&self.acked_path(), slot as u64, &encode_ack(id))
            .map_err(io)?;
        self.ack_writes += 1;
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
