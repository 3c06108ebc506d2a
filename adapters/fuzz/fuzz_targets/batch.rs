//! Any body a collector can push: parsed and validated within the limits, never a panic,
//! and never more values parsed than the cell budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pganalytics_domain::batch::{BatchLimits, ValidationContext, parse_and_validate};
use pganalytics_domain::collector::CollectorId;

fuzz_target!(|body: &[u8]| {
    let ctx = ValidationContext {
        collector_id: CollectorId::from_uuid(uuid::Uuid::from_u128(7)),
        now: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        limits: BatchLimits {
            max_cells: 10_000,
            ..BatchLimits::default()
        },
    };
    if let Ok(batch) = parse_and_validate(body, &ctx) {
        let rows: usize = batch.blocks.iter().map(|b| b.len()).sum();
        assert!(rows <= ctx.limits.max_rows);
        assert!(batch.blocks.len() <= ctx.limits.max_blocks);
    }
});
