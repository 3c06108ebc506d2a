//! The host sources on this machine's real /proc: every family has rows, and the batch they
//! make passes the server's validation with nothing skipped (names and types match the catalog).

use super::*;
use pganalytics_domain::batch::{
    BatchLimits, ValidationContext, WIRE_VERSION, WireBatch, validate,
};
use pganalytics_domain::collector::CollectorId;
use pganalytics_domain::config::{CollectorConfig, FamilyFilter};
use time::OffsetDateTime;

/// Every group's readings, split into rows and errors.
fn collect_all(host: &mut ProcHost) -> (Vec<CollectedRows>, Vec<SourceError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for group in [Group::Host, Group::Disk] {
        for reading in host.collect(group, &FamilyFilter::all()) {
            match reading.result {
                Ok(r) => rows.extend(r),
                Err(e) => errors.push(e),
            }
        }
    }
    (rows, errors)
}

#[test]
fn every_host_family_reads_rows_that_validate_against_the_catalog() {
    let data_dir = std::env::temp_dir();
    let mut host = ProcHost {
        instance: "main".into(),
        roles: vec![(data_dir, DiskRole::DataDirectory)],
    };
    let (rows, errors) = collect_all(&mut host);
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
            "sys_pressure",
            "disk_usage"
        ]
    );
    for r in &rows {
        // A container may see no whole disk; PSI is optional in the kernel.
        let may_be_empty = matches!(r.family, "sys_disk_io" | "sys_pressure");
        assert!(may_be_empty || !r.is_empty(), "{} has no rows", r.family);
    }
    let load1 = rows[2].rows()[0][0].as_f64().unwrap();
    assert_eq!(
        (load1 * 100.0).round() / 100.0,
        load1,
        "two decimals, as the kernel reports"
    );
    let cpu = &rows[0];
    assert_eq!(cpu.rows()[0][0], "all");
    assert!(cpu.len() >= 2, "a row per CPU besides the total");
    assert!(
        rows[6].rows().iter().any(|r| r[3] == "data_directory"),
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
            .map(|r| r.to_wire_block("main", now))
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
    let first = collect_all(&mut host).0;
    let second = collect_all(&mut host).0;
    let total = |rows: &[CollectedRows]| -> u64 {
        (1..=8)
            .map(|c| rows[0].rows()[0][c].as_u64().unwrap())
            .sum()
    };
    assert!(
        total(&second) >= total(&first),
        "CPU time never goes backwards"
    );
}

#[test]
fn a_group_runs_only_its_own_enabled_families() {
    let mut host = ProcHost::default();
    let names = |readings: Vec<Reading>| readings.iter().map(|r| r.collector).collect::<Vec<_>>();
    let all = FamilyFilter::all();
    assert_eq!(names(host.collect(Group::Disk, &all)), ["disk_usage"]);
    assert!(names(host.collect(Group::Tables, &all)).is_empty());
    let config = CollectorConfig {
        enabled_families: ["sys_load".to_owned()].into(),
        ..CollectorConfig::default()
    };
    let only_load = names(host.collect(Group::Host, &FamilyFilter::from_config(&config)));
    assert_eq!(only_load, ["sys_load"]);
}

#[test]
fn every_host_family_of_the_catalog_has_exactly_one_collector() {
    let host = ProcHost::default();
    for group in Group::ALL {
        let expected: Vec<&str> = group
            .families()
            .map(|f| f.name)
            .filter(|n| n.starts_with("sys_") || *n == "disk_usage")
            .collect();
        let mut got = host.collectors(group);
        got.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(got, expected, "{group:?}");
    }
}
