use super::*;

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
}

fn db(name: &str, s: i64, commit: f64, rollback: f64, hit: f64, read: f64) -> DatabaseReading {
    DatabaseReading {
        datname: Some(name.into()),
        time: at(s),
        xact_commit: Some(commit),
        xact_rollback: Some(rollback),
        blks_hit: Some(hit),
        blks_read: Some(read),
    }
}

#[test]
fn a_silent_agent_outranks_maintenance_which_outranks_an_unreachable_instance() {
    let now = at(1_000);
    let recent = Some(at(990));
    let old = Some(at(1_000 - 301));
    assert_eq!(state(now, recent, true, recent, false), ServerState::Up);
    assert_eq!(
        state(now, old, true, recent, false),
        ServerState::AgentSilent
    );
    assert_eq!(state(now, None, true, None, true), ServerState::AgentSilent);
    assert_eq!(
        state(now, recent, false, recent, false),
        ServerState::AgentSilent
    );
    assert_eq!(
        state(now, recent, true, old, true),
        ServerState::Maintenance
    );
    assert_eq!(
        state(now, recent, true, old, false),
        ServerState::Unreachable
    );
    assert_eq!(
        state(now, recent, true, None, false),
        ServerState::Unreachable
    );
    // Exactly at the limits still counts as fresh.
    assert_eq!(
        state(now, Some(at(700)), true, Some(at(820)), false),
        ServerState::Up
    );
}

#[test]
fn rates_use_each_databases_last_two_readings_and_survive_a_reset() {
    let (tps, ratio) = database_rates(&[
        db("a", 0, 100.0, 10.0, 900.0, 100.0),
        db("a", 60, 700.0, 10.0, 1_800.0, 100.0),
        db("a", 120, 1_300.0, 70.0, 2_700.0, 200.0),
        // Reset between the last two readings: the new values are the increase.
        db("b", 0, 5_000.0, 0.0, 10.0, 10.0),
        db("b", 60, 60.0, 0.0, 0.0, 100.0),
    ]);
    // a: (600 + 60) / 60 = 11; b: 60 / 60 = 1.
    assert!((tps.unwrap() - 12.0).abs() < 1e-9, "{tps:?}");
    // hits 900 + 0 (reset to 0), reads 100 + 90.
    assert!((ratio.unwrap() - 900.0 / 1_090.0).abs() < 1e-9, "{ratio:?}");
}

#[test]
fn one_reading_or_missing_counters_give_no_rate() {
    assert_eq!(
        database_rates(&[db("a", 0, 1.0, 1.0, 1.0, 1.0)]),
        (None, None)
    );
    let mut gap = db("a", 60, 2.0, 2.0, 2.0, 2.0);
    gap.xact_commit = None;
    gap.blks_hit = None;
    assert_eq!(
        database_rates(&[db("a", 0, 1.0, 1.0, 1.0, 1.0), gap]),
        (None, None)
    );
    // No block needed at all: no ratio rather than a division by zero.
    let (tps, ratio) = database_rates(&[
        db("a", 0, 1.0, 0.0, 5.0, 5.0),
        db("a", 10, 11.0, 0.0, 5.0, 5.0),
    ]);
    assert_eq!((tps, ratio), (Some(1.0), None));
}

#[test]
fn versions_read_as_people_write_them() {
    assert_eq!(version_name(150_004.0).as_deref(), Some("15.4"));
    assert_eq!(version_name(180_000.0).as_deref(), Some("18.0"));
    assert_eq!(version_name(90_624.0).as_deref(), Some("9.6.24"));
    assert_eq!(version_name(0.0), None);
    assert_eq!(version_name(f64::NAN), None);
}

#[test]
fn the_tightest_mount_is_the_smallest_free_share_not_the_fewest_bytes() {
    let m = |name: &str, avail: f64, total: f64| Mount {
        mountpoint: Some(name.into()),
        available_bytes: Some(avail),
        total_bytes: Some(total),
    };
    let got = tightest_mount(&[
        m("/", 5e9, 10e9),
        m("/wal", 1e9, 2e9),
        m("/data", 20e9, 200e9),
        Mount {
            mountpoint: Some("/empty".into()),
            available_bytes: Some(0.0),
            total_bytes: Some(0.0),
        },
    ]);
    assert_eq!(got, Some((Some("/data".into()), 20e9, 0.1)));
    assert_eq!(tightest_mount(&[]), None);
}
