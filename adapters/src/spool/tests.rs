use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

fn small() -> SpoolOptions {
    SpoolOptions {
        max_bytes: 1 << 30,
        segment_bytes: 512,
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// Every record of `model` comes out of `spool` oldest first, then nothing.
fn delivers_in_order(
    spool: &mut DiskSpool,
    model: VecDeque<(u64, Vec<u8>)>,
) -> Result<(), TestCaseError> {
    for (id, payload) in model {
        let r = spool.oldest().unwrap().unwrap();
        prop_assert_eq!((r.id, r.payload), (id, payload));
        spool.ack(id).unwrap();
    }
    prop_assert!(spool.oldest().unwrap().is_none());
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    AckOldest,
    Reopen,
    /// A crash in the middle of an append: part of a record reaches the disk.
    TornAppend(Vec<u8>, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::Append),
        2 => Just(Op::AckOldest),
        1 => Just(Op::Reopen),
        1 => (prop::collection::vec(any::<u8>(), 1..300), 1usize..300).prop_map(|(p, cut)| Op::TornAppend(p, cut)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The spool behaves as a FIFO queue through appends, acks, restarts and torn writes.
    #[test]
    fn the_spool_matches_a_fifo_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = DiskSpool::open(dir.path(), small()).unwrap();
        let mut model: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        for op in ops {
            match op {
                Op::Append(p) => {
                    let id = spool.append(&p).unwrap().id;
                    prop_assert!(model.back().is_none_or(|(last, _)| id > *last));
                    model.push_back((id, p));
                }
                Op::AckOldest => {
                    if let Some((id, _)) = model.pop_front() {
                        spool.ack(id).unwrap();
                    }
                }
                Op::Reopen => spool = DiskSpool::open(dir.path(), small()).unwrap(),
                Op::TornAppend(p, cut) => {
                    drop(spool);
                    // Write a record's first bytes to the newest segment, as a crash would.
                    let mut record = (p.len() as u32).to_le_bytes().to_vec();
                    record.extend_from_slice(&crc(u64::MAX, &p).to_le_bytes());
                    record.extend_from_slice(&u64::MAX.to_le_bytes());
                    record.extend_from_slice(&p);
                    let cut = cut.min(record.len() - 1);
                    if let Some(last) = segment_files(dir.path()).pop() {
                        OpenOptions::new().append(true).open(last).unwrap().write_all(&record[..cut]).unwrap();
                    }
                    spool = DiskSpool::open(dir.path(), small()).unwrap();
                }
            }
            let oldest = spool.oldest().unwrap().map(|r| (r.id, r.payload));
            prop_assert_eq!(oldest, model.front().cloned());
            prop_assert_eq!(spool.stats().records, model.len() as u64);
        }
        // Everything left is delivered in order after a final restart.
        let mut spool = DiskSpool::open(dir.path(), small()).unwrap();
        delivers_in_order(&mut spool, model)?;
    }
}

#[test]
fn a_torn_last_record_is_cut_off_counted_and_appending_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    s.append(b"one").unwrap();
    s.append(b"two").unwrap();
    drop(s);
    let seg = segment_files(dir.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 2)
        .unwrap();

    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    assert_eq!(s.stats().damaged_records, 1);
    assert_eq!(s.stats().records, 1);
    let id = s.append(b"three").unwrap().id;
    assert_eq!(
        id, 2,
        "the torn record's id is reused: it was never acknowledged as spooled"
    );
    let r = s.oldest().unwrap().unwrap();
    assert_eq!(r.payload, b"one");
    s.ack(r.id).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().payload, b"three");
}

#[test]
fn corruption_in_an_older_segment_loses_only_the_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(
        dir.path(),
        SpoolOptions {
            max_bytes: 1 << 30,
            segment_bytes: 100,
        },
    )
    .unwrap();
    for i in 0..6u8 {
        s.append(&[i; 40]).unwrap();
    }
    drop(s);
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    // Flip a payload byte of the first record of the first segment.
    let mut data = fs::read(&segs[0]).unwrap();
    data[HEADER as usize + 3] ^= 0xff;
    fs::write(&segs[0], data).unwrap();

    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    assert_eq!(s.stats().damaged_records, 1);
    assert_eq!(s.stats().records, 5, "only the damaged record is lost");
    let first = s.oldest().unwrap().unwrap();
    assert_eq!(first.id, 2, "the damaged record is not delivered");
    assert_eq!(first.payload, vec![1; 40]);
}

#[test]
fn when_full_the_oldest_records_are_dropped_and_counted_never_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SpoolOptions {
        max_bytes: 1_000,
        segment_bytes: 200,
    };
    let mut s = DiskSpool::open(dir.path(), opts.clone()).unwrap();
    let mut last = 0;
    for i in 0..50u8 {
        last = s.append(&[i; 50]).unwrap().id;
    }
    let st = s.stats();
    assert!(st.bytes <= 1_000, "{st:?}");
    assert!(st.dropped_records > 0);
    assert_eq!(st.records + st.dropped_records, 50);
    // The newest is still there, and what remains is a contiguous run ending with it.
    let mut ids = Vec::new();
    while let Some(r) = s.oldest().unwrap() {
        ids.push(r.id);
        s.ack(r.id).unwrap();
    }
    assert_eq!(*ids.last().unwrap(), last);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(matches!(
        s.append(&[0; 600]),
        Err(SpoolError::TooLarge { .. })
    ));
}

#[test]
fn acknowledged_segments_are_deleted_and_acks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SpoolOptions {
        max_bytes: 1 << 20,
        segment_bytes: 100,
    };
    let mut s = DiskSpool::open(dir.path(), opts.clone()).unwrap();
    let ids: Vec<u64> = (0..10u8).map(|i| s.append(&[i; 40]).unwrap().id).collect();
    let before = segment_files(dir.path()).len();
    s.ack(ids[6]).unwrap();
    assert!(segment_files(dir.path()).len() < before);
    drop(s);
    let mut s = DiskSpool::open(dir.path(), opts).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().id, ids[7]);
    assert_eq!(s.stats().records, 3);
}

fn files_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[derive(Debug, Clone)]
enum DiskOp {
    Append(Vec<u8>),
    AckOldest,
    Reopen,
    /// The file system's free space becomes `n` bytes (the test's files count as used).
    Free(u64),
}

fn disk_op() -> impl Strategy<Value = DiskOp> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..200).prop_map(DiskOp::Append),
        2 => Just(DiskOp::AckOldest),
        1 => Just(DiskOp::Reopen),
        2 => (0u64..600).prop_map(DiskOp::Free),
        1 => Just(DiskOp::Free(1 << 30)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Issue 11, finding 8: on a file system that runs out of space at any write, the
    /// spool stays a FIFO: a failed append changes nothing, room is made by dropping the
    /// oldest records (counted), acknowledging needs no space, and a restart loses nothing
    /// readable.
    #[test]
    fn on_a_full_disk_the_spool_drops_oldest_first_counts_it_and_never_tears(
        ops in prop::collection::vec(disk_op(), 1..80)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(LimitedDisk::new(1 << 30));
        let open = |disk: &Arc<LimitedDisk>| {
            DiskSpool::open_on(disk.clone(), dir.path(), SpoolOptions { max_bytes: 1 << 30, segment_bytes: 300 }).unwrap()
        };
        let mut spool = open(&disk);
        let mut model: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        // Drops counted by this spool instance (the count restarts with the process).
        let mut dropped = 0u64;
        for op in ops {
            match op {
                DiskOp::Append(p) => {
                    let before: Vec<(PathBuf, Vec<u8>)> = segment_files(dir.path())
                        .into_iter()
                        .map(|f| { let d = fs::read(&f).unwrap(); (f, d) })
                        .collect();
                    match spool.append(&p) {
                        Ok(a) => {
                            for _ in 0..a.dropped {
                                prop_assert!(model.pop_front().is_some(), "dropped more than it held");
                            }
                            dropped += a.dropped;
                            prop_assert!(a.dropped == 0 || a.pressure.is_some());
                            prop_assert!(model.back().is_none_or(|(last, _)| a.id > *last));
                            model.push_back((a.id, p));
                        }
                        Err(SpoolError::NoSpace(_)) => {
                            // Everything older went first; then this record too.
                            dropped += model.len() as u64 + 1;
                            model.clear();
                        }
                        Err(e) => prop_assert!(false, "append failed: {e}"),
                    }
                    // Segments only grow at their end or go whole: nothing is torn or rewritten.
                    for (f, data) in before {
                        if let Ok(now) = fs::read(&f) {
                            prop_assert!(now.starts_with(&data), "{} was changed in place", f.display());
                        }
                    }
                }
                DiskOp::AckOldest => {
                    if let Some((id, _)) = model.pop_front() {
                        // Acknowledging never needs new space.
                        disk.set_capacity(files_bytes(dir.path()));
                        spool.ack(id).unwrap();
                    }
                }
                DiskOp::Reopen => {
                    drop(spool);
                    disk.set_capacity(1 << 30);
                    spool = open(&disk);
                    prop_assert_eq!(spool.stats().damaged_records, 0, "a failed append left damage");
                    dropped = 0;
                }
                DiskOp::Free(n) => disk.set_capacity(files_bytes(dir.path()) + n),
            }
            let oldest = spool.oldest().unwrap().map(|r| (r.id, r.payload));
            prop_assert_eq!(oldest, model.front().cloned());
            prop_assert_eq!(spool.stats().records, model.len() as u64);
            prop_assert_eq!(spool.stats().dropped_records, dropped);
        }
        // After a restart with space, everything left is delivered in order.
        drop(spool);
        disk.set_capacity(1 << 30);
        let mut spool = open(&disk);
        delivers_in_order(&mut spool, model)?;
    }
}

#[test]
fn a_failed_append_leaves_the_segment_byte_for_byte_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(LimitedDisk::new(1 << 30));
    let mut s = DiskSpool::open_on(disk.clone(), dir.path(), small()).unwrap();
    s.append(b"first").unwrap();
    let seg = segment_files(dir.path()).pop().unwrap();
    let before = fs::read(&seg).unwrap();
    // Room for half the next record: a full disk tears the write.
    disk.set_capacity(files_bytes(dir.path()) + 20);
    let err = s.append(&[7; 40]).unwrap_err();
    assert!(matches!(err, SpoolError::NoSpace(_)), "{err}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    // The older record was dropped to make room and counted; so was the new one.
    assert_eq!(s.stats().dropped_records, 2);
    assert!(!seg.exists() || fs::read(&seg).unwrap().starts_with(&before));
    disk.set_capacity(1 << 30);
    let a = s.append(b"after").unwrap();
    assert_eq!((a.dropped, a.pressure), (0, None));
    drop(s);
    let mut s = DiskSpool::open_on(disk, dir.path(), small()).unwrap();
    assert_eq!(s.stats().damaged_records, 0);
    assert_eq!(s.oldest().unwrap().unwrap().payload, b"after");
}

#[test]
fn delivered_batches_free_their_space_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(dir.path(), SpoolOptions::default()).unwrap();
    for i in 0..3u8 {
        let a = s.append(&[i; 1000]).unwrap();
        s.ack(a.id).unwrap();
        assert!(
            segment_files(dir.path()).is_empty(),
            "a delivered batch kept its segment"
        );
        assert_eq!(s.stats().bytes, 0);
    }
    drop(s);
    let mut s = DiskSpool::open(dir.path(), SpoolOptions::default()).unwrap();
    assert_eq!(
        s.append(b"next").unwrap().id,
        4,
        "ids go on after a restart"
    );
}

#[test]
fn the_older_text_acked_file_is_read_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    for i in 0..4u8 {
        s.append(&[i; 10]).unwrap();
    }
    drop(s);
    fs::write(dir.path().join("acked"), "2").unwrap();
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().id, 3);
    assert_eq!(fs::metadata(dir.path().join("acked")).unwrap().len(), 32);
    s.ack(3).unwrap();
    drop(s);
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().id, 4);
}

#[test]
fn a_record_written_after_a_torn_one_is_kept_on_restart() {
    // The old spool appended after a torn record and then, on restart, discarded every
    // good record behind the damage.
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    s.append(b"one").unwrap();
    drop(s);
    let seg = segment_files(dir.path()).pop().unwrap();
    // Torn bytes, then a good record 2 behind them.
    let mut tail = vec![0xAB; 11];
    tail.extend_from_slice(&(3u32).to_le_bytes());
    tail.extend_from_slice(&crc(2, b"two").to_le_bytes());
    tail.extend_from_slice(&2u64.to_le_bytes());
    tail.extend_from_slice(b"two");
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&tail)
        .unwrap();
    let mut s = DiskSpool::open(dir.path(), small()).unwrap();
    assert_eq!(s.stats().damaged_records, 1);
    assert_eq!(s.stats().records, 2);
    s.ack(1).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().payload, b"two");
    assert_eq!(s.append(b"three").unwrap().id, 3);
}
