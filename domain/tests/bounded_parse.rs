//! Issue 11, finding 1: a small compressed push unpacking to millions of tiny cells was
//! parsed whole before the row limit refused it (~790 MB for one request). The parse must
//! stop at the limits while it reads, so its memory is bounded by the limits, not by the
//! body. Measured with a counting allocator: this binary holds this one test so nothing
//! else allocates meanwhile.

// The counting allocator forwards to the system's; counting needs `GlobalAlloc`, which is
// unsafe to implement. Test code only.
#![allow(unsafe_code)]

use pganalytics_domain::batch::{BatchError, BatchLimits, ValidationContext, parse_and_validate};
use pganalytics_domain::collector::CollectorId;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A batch of `rows` rows of `width` zeros each: tiny cells, a small body per cell.
fn tiny_cells(collector: CollectorId, rows: usize, width: usize) -> Vec<u8> {
    let row = format!("[{}]", vec!["0"; width].join(","));
    let rows = vec![row.as_str(); rows].join(",");
    format!(
        r#"{{"version":1,"batch_id":"7f0c3c2e-8d7a-4c55-9f0e-3d2b1a0c9e8f","collector_id":"{}","agent_version":"x","collected_at":"2026-11-30T00:00:00Z","metrics":[{{"family":"pg_database","instance":"db","columns":["datname"],"rows":[{rows}]}}]}}"#,
        collector.as_uuid()
    )
    .into_bytes()
}

#[test]
fn a_body_of_millions_of_tiny_cells_is_refused_within_the_cell_budget() {
    let collector = CollectorId::from_uuid(uuid::Uuid::new_v4());
    // 4,000,000 cells in 8 MB of JSON: parsed whole, ~130 MB of cells.
    let body = tiny_cells(collector, 40_000, 100);
    let limits = BatchLimits {
        max_cells: 100_000,
        ..BatchLimits::default()
    };
    let ctx = ValidationContext {
        collector_id: collector,
        now: time::OffsetDateTime::now_utc(),
        limits,
    };
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let err = parse_and_validate(&body, &ctx).unwrap_err();
    let used = PEAK.load(Ordering::SeqCst) - before;
    assert_eq!(
        err,
        BatchError::LimitExceeded {
            what: "number of values",
            limit: 100_000
        }
    );
    // 100,000 cells of 32 bytes, their rows and the vectors' growth: well under 16 MB.
    assert!(
        used < 16 * 1024 * 1024,
        "parsing took {used} bytes beyond the body"
    );
}

#[test]
fn rows_wider_than_the_column_limit_stop_the_parse() {
    let collector = CollectorId::from_uuid(uuid::Uuid::new_v4());
    let body = tiny_cells(collector, 2, 300);
    let ctx = ValidationContext {
        collector_id: collector,
        now: time::OffsetDateTime::now_utc(),
        limits: BatchLimits::default(),
    };
    assert_eq!(
        parse_and_validate(&body, &ctx).unwrap_err(),
        BatchError::LimitExceeded {
            what: "number of values in a row",
            limit: 256
        }
    );
}
