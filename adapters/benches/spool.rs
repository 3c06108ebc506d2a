//! The spool's cost per batch (append with fsync, then acknowledge) and the disk it holds
//! while a backlog drains, for several segment sizes: what chose 1 MiB segments.
//! `cargo bench -p pganalytics-adapters --features spool --bench spool`.

use criterion::{Criterion, criterion_group, criterion_main};
use pganalytics_adapters::spool::{DiskSpool, SpoolOptions};
use pganalytics_ports::spool::Spool;

const BATCH: usize = 20 * 1024;
const SIZES: [u64; 3] = [256 * 1024, 1024 * 1024, 8 * 1024 * 1024];

fn options(segment_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        segment_bytes,
        ..SpoolOptions::default()
    }
}

/// Bytes on disk after delivering half of a 400-batch backlog (8 MB): what the old rule
/// (a segment is deleted only once it is full and delivered) held on to.
fn held_after_half(segment_bytes: u64) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DiskSpool::open(dir.path(), options(segment_bytes)).unwrap();
    let ids: Vec<u64> = (0..400)
        .map(|_| s.append(&[7; BATCH]).unwrap().id)
        .collect();
    s.ack(ids[199]).unwrap();
    std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn spool(c: &mut Criterion) {
    let mut g = c.benchmark_group("spool");
    g.sample_size(20);
    for size in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DiskSpool::open(dir.path(), options(size)).unwrap();
        g.bench_function(
            format!("append_and_ack_20KiB_segments_{}KiB", size / 1024),
            |b| {
                b.iter(|| {
                    let a = s.append(&[7; BATCH]).unwrap();
                    s.ack(a.id).unwrap();
                });
            },
        );
        eprintln!(
            "segments of {} KiB: {} bytes on disk with 200 of 400 batches of 20 KiB left (4,099,200 bytes of records)",
            size / 1024,
            held_after_half(size)
        );
    }
    g.finish();
}

criterion_group!(benches, spool);
criterion_main!(benches);
