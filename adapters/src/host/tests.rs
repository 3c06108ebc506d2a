//! The host sources on this machine's real /proc: every family has rows, and the batch they
//! make passes the server's validation with nothing skipped (names and types match the catalog).

use super::*;
use pganalytics_domain::batch::{
    BatchLimits, ValidationContext, WIRE_VERSION, WireBatch, validate,
};
use pganalytics_domain::collector::CollectorId;
use time::OffsetDateTime;

#[test]
fn every_host_family_reads_rows_that_validate_against_the_catalog() {
    let data_dir = std::env::temp_dir();
    let mut host = ProcHost {
        roles: vec![(data_dir, DiskRole::DataDirectory)],
    };
    let (rows, errors) = host.collect();
    assert!(errors.is_empty(), "{errors:?}");
    let families: Vec<&str> = rows.iter().map(|r| r.family).collect();
    assert_eq!(
        families,
        [
            "sys_cpu",
            "sys_memory",
            "sys_load",
            "sys_disk_io",
            "sys_network",
            "disk_usage"
        ]
    );
    for r in &rows {
        let may_be_empty = r.family == "sys_disk_io"; // a container may see no whole disk
        assert!(
            may_be_empty || !r.rows.is_empty(),
            "{} has no rows",
            r.family
        );
    }
    let load1 = rows[2].rows[0][0].as_f64().unwrap();
    assert_eq!(
        (load1 * 100.0).round() / 100.0,
        load1,
        "two decimals, as the kernel reports"
    );
    let cpu = &rows[0];
    assert_eq!(cpu.rows[0][0], "all");
    assert!(cpu.rows.len() >= 2, "a row per CPU besides the total");
    assert!(
        rows[5].rows.iter().any(|r| r[3] == "data_directory"),
        "the data directory's file system is labelled"
    );

    let now = pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc());
    let id = CollectorId::from_uuid(uuid::Uuid::new_v4());
    let wire = WireBatch {
        version: WIRE_VERSION,
        batch_id: uuid::Uuid::new_v4(),
        collector_id: id.as_uuid(),
        agent_version: "test".into(),
        collected_at: now,
        metrics: rows
            .into_iter()
            .map(|r| r.into_block("main", now))
            .collect(),
    };
    let ctx = ValidationContext {
        collector_id: id,
        now,
        limits: BatchLimits::default(),
    };
    let batch = validate(wire, &ctx).unwrap();
    assert!(
        batch.skipped.families.is_empty() && batch.skipped.columns.is_empty(),
        "{:?}",
        batch.skipped
    );
}

#[test]
fn counters_move_forward_between_readings() {
    let mut host = ProcHost::default();
    let first = host.collect().0;
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = host.collect().0;
    let total = |rows: &[CollectedRows]| -> u64 {
        (1..=8).map(|c| rows[0].rows[0][c].as_u64().unwrap()).sum()
    };
    assert!(
        total(&second) >= total(&first),
        "CPU time never goes backwards"
    );
}
