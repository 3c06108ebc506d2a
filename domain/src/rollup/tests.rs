use super::*;
use crate::catalog;
use proptest::prelude::*;

fn at(s: i64) -> OffsetDateTime {
    // 2026-11-30T00:00:00Z, a Monday.
    OffsetDateTime::from_unix_timestamp(1_795_996_800 + s).unwrap()
}

fn family(name: &str) -> &'static FamilySpec {
    catalog::family(name).unwrap()
}

fn value(family: &'static FamilySpec, b: &Bucket, column: &str) -> Option<Scalar> {
    let k = columns(family)
        .iter()
        .position(|c| c.name() == column)
        .unwrap_or_else(|| panic!("no rollup column {column}"));
    b.values[k].clone()
}

/// A `pg_archiver` reading: counters `archived_count`, `failed_count`, text `last_archived_wal`.
fn archiver(s: i64, archived: Option<f64>, wal: &str) -> Reading {
    let f = family("pg_archiver");
    let mut values = vec![None; f.columns.len()];
    values[0] = archived.map(Scalar::Num);
    values[1] = Some(Scalar::Num(0.0));
    values[2] = Some(Scalar::Text(wal.into()));
    Reading {
        server_id: 1,
        time: at(s),
        labels: vec![],
        values,
    }
}

#[test]
fn the_start_of_a_bucket_and_partition_of_each_tier() {
    let t = at(3 * 3600 + 125);
    assert_eq!(Tier::Hourly.bucket_start(t), at(3 * 3600));
    assert_eq!(Tier::Daily.bucket_start(t), at(0));
    let wednesday = at(2 * 86_400 + 5);
    assert_eq!(Tier::Raw.partition_of(wednesday), wednesday.date());
    assert_eq!(Tier::Hourly.partition_of(wednesday), at(0).date());
    assert_eq!(
        Tier::Daily.partition_of(wednesday).to_string(),
        "2026-12-01".to_owned()
    );
    let december = Tier::Daily.partition_of(at(5 * 86_400));
    assert_eq!(
        Tier::Daily.partition_end(december).to_string(),
        "2027-01-01"
    );
    assert_eq!(
        Tier::Hourly.partition_end(at(0).date()),
        at(7 * 86_400).date()
    );
}

#[test]
fn the_rollup_table_has_every_part_of_every_column() {
    let ddl = table_ddl(family("pg_archiver"), Tier::Hourly);
    for part in [
        "archived_count_increase bigint",
        "archived_count_max_rate double precision",
        "last_archived_wal_last text",
        "last_archived_time_last timestamptz",
        "samples integer NOT NULL",
    ] {
        assert!(ddl.contains(part), "{part} missing from\n{ddl}");
    }
    assert!(ddl.contains("CREATE TABLE metrics_hourly.pg_archiver ("));
    let gauges = table_ddl(family("sys_load"), Tier::Daily);
    for part in [
        "load1_min",
        "load1_max",
        "load1_sum",
        "load1_count integer",
        "load1_last",
    ] {
        assert!(gauges.contains(part), "{part} missing");
    }
}

#[test]
fn counters_sum_their_deltas_across_a_reset_and_a_bucket_edge() {
    let f = family("pg_archiver");
    let readings = vec![
        archiver(3000, Some(10.0), "a"),
        archiver(3600, Some(16.0), "b"),
        archiver(3660, Some(4.0), "c"), // reset: 4 since
        archiver(3720, Some(10.0), "d"),
        archiver(3780, None, "e"),
    ];
    let buckets = roll_up(f, &readings);
    assert_eq!(buckets.len(), 2);
    let second = &buckets[1];
    assert_eq!(second.start, at(3600));
    assert_eq!(second.samples, 4);
    // 600 s back to the reading in the previous hour, then three minutes.
    assert_eq!(second.seconds, 780.0);
    assert_eq!(
        value(f, second, "archived_count_increase"),
        Some(Scalar::Num(6.0 + 4.0 + 6.0))
    );
    assert_eq!(
        value(f, second, "archived_count_max_rate"),
        Some(Scalar::Num(0.1))
    );
    assert_eq!(
        value(f, second, "last_archived_wal_last"),
        Some(Scalar::Text("e".into()))
    );
    // The first hour's only reading has no predecessor: no increase, no time covered.
    assert_eq!(value(f, &buckets[0], "archived_count_increase"), None);
    assert_eq!(buckets[0].seconds, 0.0);
}

#[test]
fn a_predecessor_older_than_the_lookback_gives_no_delta() {
    let f = family("pg_archiver");
    let b = roll_up(
        f,
        &[
            archiver(0, Some(1.0), "a"),
            archiver(3601 + 3600, Some(5.0), "b"),
        ],
    );
    assert!(
        b.iter()
            .all(|b| value(f, b, "archived_count_increase").is_none())
    );
}

#[test]
fn gauges_keep_min_max_sum_count_and_the_last_value() {
    let f = family("sys_load");
    let reading = |s: i64, load1: Option<f64>| {
        let mut values = vec![None; f.columns.len()];
        values[0] = load1.map(Scalar::Num);
        Reading {
            server_id: 7,
            time: at(s),
            labels: vec![],
            values,
        }
    };
    let b = roll_up(
        f,
        &[
            reading(10, Some(2.0)),
            reading(20, None),
            reading(30, Some(0.5)),
            reading(40, Some(4.0)),
        ],
    );
    assert_eq!(b.len(), 1);
    let get = |c: &str| value(f, &b[0], c).and_then(|s| s.num());
    assert_eq!(get("load1_min"), Some(0.5));
    assert_eq!(get("load1_max"), Some(4.0));
    assert_eq!(get("load1_sum"), Some(6.5));
    assert_eq!(get("load1_count"), Some(3.0));
    assert_eq!(get("load1_last"), Some(4.0));
    assert_eq!(get("load5_count"), Some(0.0));
    assert_eq!(get("load5_sum"), None);
}

#[test]
fn steps_raise_to_fit_the_point_cap_and_tiers_follow_the_step() {
    let now = at(400 * 86_400);
    let keep = Retention {
        raw_days: 7,
        hourly_days: 90,
        daily_days: 730,
    };
    let day = choose_tier(
        now - Duration::DAY,
        now,
        Duration::minutes(1),
        now,
        keep,
        11_000,
    );
    assert_eq!(
        (day.tier, day.step, day.downsampled),
        (Tier::Raw, Duration::minutes(1), None)
    );

    let month = choose_tier(
        now - Duration::days(30),
        now,
        Duration::hours(2),
        now,
        keep,
        11_000,
    );
    assert_eq!((month.tier, month.step), (Tier::Hourly, Duration::hours(2)));
    assert!(month.downsampled.is_none());

    // Raw rows of 30 days ago are gone: hourly rollups answer, at an hourly step.
    let old = choose_tier(
        now - Duration::days(30),
        now,
        Duration::minutes(5),
        now,
        keep,
        11_000,
    );
    assert_eq!((old.tier, old.step), (Tier::Hourly, Duration::HOUR));
    assert!(old.downsampled.unwrap().contains("raw data is kept 7 days"));

    // A year at one second: 31.5 M steps; raised to fit 11,000, then daily.
    let year = choose_tier(
        now - Duration::days(365),
        now,
        Duration::SECOND,
        now,
        keep,
        11_000,
    );
    assert_eq!(year.tier, Tier::Daily);
    assert_eq!(year.step, Duration::DAY);
    assert_eq!(
        year.from,
        Tier::Daily.bucket_start(now - Duration::days(365))
    );
    assert!(year.downsampled.unwrap().contains("exceed 11000 points"));
}

#[test]
fn retention_is_validated_field_by_field_and_the_policy_layers() {
    let ok = Retention {
        raw_days: 7,
        hourly_days: 90,
        daily_days: 730,
    };
    assert_eq!(ok.validate(), Ok(ok));
    let bad = Retention {
        hourly_days: 0,
        ..ok
    };
    assert_eq!(bad.validate().unwrap_err().field, "hourly_days");
    let f = family("disk_usage");
    let mut policy = RetentionPolicy::default();
    assert_eq!(
        policy.of(f),
        (default_retention(f), RetentionSource::Default)
    );
    assert_eq!(default_retention(f).raw_days, 30);
    policy.settings.insert(f.name.into(), ok);
    assert_eq!(policy.of(f).1, RetentionSource::Settings);
    policy
        .stored
        .insert(f.name.into(), Retention { raw_days: 3, ..ok });
    assert_eq!(
        policy.of(f),
        (Retention { raw_days: 3, ..ok }, RetentionSource::Api)
    );
}

#[test]
fn resampling_weighs_each_bucket_by_its_denominator() {
    let p = |s: i64, n: f64, d: f64| RolledPoint {
        time: at(s),
        numerator: n,
        denominator: d,
    };
    let out = resample(
        &[p(0, 10.0, 1.0), p(3600, 30.0, 3.0), p(7200, 5.0, 0.0)],
        at(0),
        Duration::hours(2),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 10.0);
}

proptest! {
    /// However readings fall, a day is the merge of its hours, and its counter increase is
    /// the sum of the deltas of consecutive readings no more than the lookback apart.
    #[test]
    fn a_day_is_the_merge_of_its_hours(
        gaps in prop::collection::vec(1i64..5_000, 1..80),
        values in prop::collection::vec(0i64..1_000, 80),
    ) {
        let f = family("pg_archiver");
        let mut t = 0;
        let mut readings = Vec::new();
        for (i, gap) in gaps.iter().enumerate() {
            t += gap;
            readings.push(archiver(t % (3 * 86_400), Some(values[i] as f64), "w"));
        }
        readings.sort_by_key(|r| r.time);
        readings.dedup_by_key(|r| r.time);
        let mut expected: BTreeMap<OffsetDateTime, f64> = BTreeMap::new();
        for w in readings.windows(2) {
            if w[1].time - w[0].time <= LOOKBACK {
                let (a, b) = (w[0].values[0].as_ref().unwrap().num().unwrap(), w[1].values[0].as_ref().unwrap().num().unwrap());
                *expected.entry(Tier::Daily.bucket_start(w[1].time)).or_default() += if b >= a { b - a } else { b };
            }
        }
        let days = merge(f, Tier::Daily, &roll_up(f, &readings));
        for d in &days {
            let got = value(f, d, "archived_count_increase").and_then(|s| s.num());
            prop_assert_eq!(got, expected.get(&d.start).copied());
            prop_assert_eq!(value(f, d, "last_archived_wal_last"), Some(Scalar::Text("w".into())));
        }
        prop_assert_eq!(days.iter().map(|d| d.samples).sum::<i64>(), readings.len() as i64);
    }
}
