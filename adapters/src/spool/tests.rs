use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

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
                    let id = spool.append(&p).unwrap();
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
        for (id, payload) in model {
            let r = spool.oldest().unwrap().unwrap();
            prop_assert_eq!((r.id, r.payload), (id, payload));
            spool.ack(id).unwrap();
        }
        prop_assert!(spool.oldest().unwrap().is_none());
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
    let id = s.append(b"three").unwrap();
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
fn corruption_in_an_older_segment_skips_the_rest_of_it_and_keeps_later_segments() {
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
    let first = s.oldest().unwrap().unwrap();
    assert!(first.id > 1, "the damaged record is not delivered");
    assert_eq!(first.payload, vec![(first.id - 1) as u8; 40]);
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
        last = s.append(&[i; 50]).unwrap();
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
    let ids: Vec<u64> = (0..10u8).map(|i| s.append(&[i; 40]).unwrap()).collect();
    let before = segment_files(dir.path()).len();
    s.ack(ids[6]).unwrap();
    assert!(segment_files(dir.path()).len() < before);
    drop(s);
    let mut s = DiskSpool::open(dir.path(), opts).unwrap();
    assert_eq!(s.oldest().unwrap().unwrap().id, ids[7]);
    assert_eq!(s.stats().records, 3);
}
