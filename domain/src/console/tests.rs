use std::collections::BTreeMap;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::charts::{Lines, SERVER_CHARTS, SeriesData, Unit, families};
use super::fleet::{FleetPage, FleetQuery, FleetSort};
use super::format;
use super::range::{RangeError, TimeRange};
use crate::catalog;
use crate::fleet::{FleetRow, ServerState};

const NOW: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

#[test]
fn a_preset_ends_now_and_a_custom_range_is_checked() {
    let r = TimeRange::parse(None, None, None, NOW).unwrap();
    assert_eq!(
        (r.from, r.to, r.preset),
        (NOW - Duration::hours(1), NOW, Some("1h"))
    );
    assert_eq!(r.step(), Duration::seconds(15));
    assert_eq!(r.query(), "range=1h");

    let y = TimeRange::parse(Some("1y"), None, None, NOW).unwrap();
    assert_eq!(y.span(), Duration::days(365));
    assert!(y.span().whole_seconds() / y.step().whole_seconds() <= 240);
    assert_eq!(y.step(), Duration::days(2));
    let d = TimeRange::parse(Some("24h"), None, None, NOW).unwrap();
    assert_eq!(d.step(), Duration::minutes(10));

    let c = TimeRange::parse(
        Some("7d"),
        Some("2026-11-30T08:00:00Z"),
        Some("2026-11-30T09:30:00+01:00"),
        NOW,
    )
    .unwrap();
    assert_eq!(c.preset, None, "from and to win over the preset");
    assert_eq!(c.span(), Duration::minutes(30));
    assert_eq!(
        c.query(),
        "from=2026-11-30T08:00:00Z&to=2026-11-30T08:30:00Z"
    );
    let again = TimeRange::parse(
        None,
        Some("2026-11-30T08:00:00Z"),
        Some("2026-11-30T08:30:00Z"),
        NOW,
    )
    .unwrap();
    assert_eq!(again, c);

    assert_eq!(
        TimeRange::parse(Some("2w"), None, None, NOW),
        Err(RangeError::UnknownPreset("2w".into()))
    );
    assert_eq!(
        TimeRange::parse(None, Some("yesterday"), Some("2026-11-30T08:00:00Z"), NOW),
        Err(RangeError::BadTime("from"))
    );
    assert_eq!(
        TimeRange::parse(None, Some("2026-11-30T08:00:00Z"), None, NOW),
        Err(RangeError::BadTime("to"))
    );
    assert_eq!(
        TimeRange::parse(
            None,
            Some("2026-11-30T08:00:00Z"),
            Some("2026-11-30T07:00:00Z"),
            NOW
        ),
        Err(RangeError::Reversed)
    );
    assert_eq!(
        TimeRange::parse(
            None,
            Some("2020-01-01T00:00:00Z"),
            Some("2026-11-30T07:00:00Z"),
            NOW
        ),
        Err(RangeError::TooLong)
    );
}

fn series(column: &str, labels: &[(&str, &str)], points: &[(i64, f64)]) -> SeriesData {
    SeriesData {
        column: column.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect::<BTreeMap<_, _>>(),
        points: points.to_vec(),
    }
}

fn spec(id: &str) -> &'static super::charts::ChartSpec {
    SERVER_CHARTS.iter().find(|c| c.id == id).unwrap()
}

#[test]
fn every_chart_reads_columns_its_family_has() {
    for c in SERVER_CHARTS {
        let family = catalog::family(c.family).unwrap_or_else(|| panic!("{}", c.family));
        for col in c.lines.columns() {
            assert!(
                family.columns.iter().any(|s| s.name == col),
                "{}: {} has no {col}",
                c.id,
                c.family
            );
        }
        if let Lines::ByLabel { label, .. } = c.lines {
            assert!(family.columns.iter().any(|s| s.name == label), "{}", c.id);
        }
    }
    let ids: Vec<_> = SERVER_CHARTS.iter().map(|c| c.id).collect();
    for wanted in [
        "transactions",
        "sessions-state",
        "sessions-wait",
        "cache-hit",
        "tuples",
        "temp",
        "deadlocks",
        "checkpoints",
        "wal",
        "replication",
        "cpu",
        "memory",
        "load",
        "disk-io",
        "network",
        "disk-space",
    ] {
        assert!(ids.contains(&wanted), "{wanted}");
    }
    let fams = families(SERVER_CHARTS);
    let db = fams.iter().find(|(f, _)| *f == "pg_database").unwrap();
    assert!(db.1.contains(&"blks_hit") && db.1.contains(&"xact_commit"));
    assert_eq!(db.1.iter().filter(|c| **c == "blks_hit").count(), 1);
}

#[test]
fn columns_sum_over_databases_and_shares_are_percent() {
    let data = vec![
        series("xact_commit", &[("datname", "a")], &[(0, 10.0), (60, 20.0)]),
        series("xact_commit", &[("datname", "b")], &[(0, 5.0)]),
        series("xact_rollback", &[("datname", "a")], &[(60, 1.0)]),
        series("blks_hit", &[("datname", "a")], &[(0, 90.0), (60, 0.0)]),
        series("blks_read", &[("datname", "a")], &[(0, 10.0), (60, 0.0)]),
    ];
    let tx = spec("transactions").chart(&data);
    assert_eq!(tx.unit, Unit::PerSecond);
    assert_eq!(tx.lines.len(), 2);
    assert_eq!(tx.lines[0].label, "commits");
    assert_eq!(tx.lines[0].points, vec![(0, 15.0), (60, 20.0)]);
    assert_eq!(tx.lines[1].points, vec![(60, 1.0)]);

    let hit = spec("cache-hit").chart(&data);
    // A step with no block reads at all has no ratio, not 0 %.
    assert_eq!(hit.lines[0].points, vec![(0, 90.0)]);

    // Nothing read: no lines (the page says "no data"), never a line of zeros.
    assert!(spec("wal").chart(&data).lines.is_empty());
}

#[test]
fn cpu_reads_the_all_row_and_disk_io_counts_sectors_as_bytes() {
    let data = vec![
        series("user_ms", &[("cpu", "all")], &[(0, 300.0)]),
        series("idle_ms", &[("cpu", "all")], &[(0, 700.0)]),
        series("user_ms", &[("cpu", "0")], &[(0, 999.0)]),
    ];
    let cpu = spec("cpu").chart(&data);
    assert_eq!(cpu.lines.len(), 1, "{cpu:?}");
    assert_eq!(cpu.lines[0].points, vec![(0, 30.0)]);

    let io = spec("disk-io").chart(&[series("sectors_read", &[("device", "sda")], &[(0, 2.0)])]);
    assert_eq!(io.lines[0].points, vec![(0, 1024.0)]);
}

#[test]
fn by_label_lines_are_capped_with_an_other_line() {
    let mut data: Vec<SeriesData> = (0..12)
        .map(|i| {
            series(
                "sessions",
                &[("state", &format!("s{i:02}")), ("datname", "x")],
                &[(0, f64::from(i))],
            )
        })
        .collect();
    data.push(SeriesData {
        column: "sessions".into(),
        labels: [("state".to_owned(), None)].into_iter().collect(),
        points: vec![(0, 100.0)],
    });
    let c = spec("sessions-state").chart(&data);
    assert_eq!(c.lines.len(), 8);
    assert_eq!(c.lines[0].label, "none");
    assert_eq!(c.lines[1].label, "s11");
    let other = c.lines.last().unwrap();
    assert_eq!(other.label, "other");
    // s00..s05 summed: 0+1+2+3+4+5.
    assert_eq!(other.points, vec![(0, 15.0)]);
}

fn row(id: i64, name: &str, state: ServerState) -> FleetRow {
    FleetRow {
        server_id: id,
        collector: "agent".into(),
        instance: name.into(),
        state,
        role: None,
        version: None,
        firing_alerts: 0,
        pending_alerts: 0,
        worst_severity: None,
        connections: None,
        max_connections: None,
        transactions_per_second: None,
        cache_hit_ratio: None,
        replication_lag_seconds: None,
        disk_mountpoint: None,
        disk_available_bytes: None,
        disk_free_ratio: None,
        last_reading: None,
        agent_last_seen: None,
    }
}

#[test]
fn the_fleet_sorts_urgent_first_filters_and_counts_every_state() {
    let mut a = row(1, "alpha", ServerState::Up);
    a.transactions_per_second = Some(50.0);
    a.version = Some("9.6".into());
    let mut b = row(2, "bravo", ServerState::Up);
    b.firing_alerts = 2;
    b.transactions_per_second = Some(10.0);
    b.version = Some("16.4".into());
    let c = row(3, "charlie", ServerState::AgentSilent);
    let mut d = row(4, "delta", ServerState::Maintenance);
    d.transactions_per_second = Some(70.0);
    let rows = vec![a, b, c, d];
    let names = |p: &FleetPage| {
        p.rows
            .iter()
            .map(|r| r.instance.clone())
            .collect::<Vec<_>>()
    };

    let p = FleetPage::new(rows.clone(), FleetQuery::default());
    assert_eq!(names(&p), ["charlie", "delta", "bravo", "alpha"]);
    assert_eq!(
        p.counts,
        vec![
            (ServerState::AgentSilent, 1),
            (ServerState::Maintenance, 1),
            (ServerState::Up, 2)
        ]
    );
    assert_eq!(p.total, 4);

    let tps = |descending| FleetQuery {
        sort: FleetSort::Tps,
        descending,
        ..FleetQuery::default()
    };
    // Missing figures last, in both directions.
    assert_eq!(
        names(&FleetPage::new(rows.clone(), tps(true))),
        ["delta", "alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names(&FleetPage::new(rows.clone(), tps(false))),
        ["bravo", "alpha", "delta", "charlie"]
    );
    let version = FleetQuery {
        sort: FleetSort::Version,
        descending: true,
        ..FleetQuery::default()
    };
    assert_eq!(
        names(&FleetPage::new(rows.clone(), version))[..2],
        ["bravo", "alpha"]
    );
    let by_name = FleetQuery {
        sort: FleetSort::Name,
        descending: true,
        ..FleetQuery::default()
    };
    assert_eq!(
        names(&FleetPage::new(rows.clone(), by_name)),
        ["delta", "charlie", "bravo", "alpha"]
    );

    let up = FleetQuery {
        state: Some(ServerState::Up),
        text: " BRA ".into(),
        ..FleetQuery::default()
    };
    let p = FleetPage::new(rows, up);
    assert_eq!(names(&p), ["bravo"]);
    assert_eq!(p.total, 4, "the summary counts the whole fleet");
    assert_eq!(FleetSort::parse(Some("bogus")), FleetSort::Urgency);
    assert_eq!(FleetSort::parse(Some("disk_free")), FleetSort::DiskFree);
}

#[test]
fn figures_read_like_a_dba_writes_them() {
    assert_eq!(format::bytes(512.0), "512 B");
    assert_eq!(format::bytes(1536.0), "1.5 KiB");
    assert_eq!(format::bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3 GiB");
    assert_eq!(format::count(1_234_567.0), "1.23 M");
    assert_eq!(format::count(12.34), "12.3");
    assert_eq!(format::count(0.012_34), "0.0123");
    assert_eq!(format::seconds(0.25), "250 ms");
    assert_eq!(format::seconds(90.0), "90 s");
    assert_eq!(format::seconds(600.0), "10 min");
    assert_eq!(format::seconds(3.0 * 86400.0), "3 d");
    assert_eq!(format::ratio(0.9912), "99.1%");
    assert_eq!(format::value(Unit::BytesPerSecond, 2048.0), "2 KiB/s");
    assert_eq!(format::value(Unit::Percent, 42.0), "42%");
    assert_eq!(format::short(0.0), "0");
    assert_eq!(format::short(f64::NAN), "–");
}

#[test]
fn tables_show_growth_dead_share_and_flag_unused_and_invalid_indexes() {
    use super::tables::TablesPage;
    use crate::alerts::eval::Row;
    let t = |name: &str,
             sizes: [f64; 3],
             live: f64,
             dead: f64,
             vac: Option<f64>,
             autovac: Option<f64>| Row {
        server_id: 1,
        time: NOW,
        labels: vec![Some("app".into()), Some("public".into()), Some(name.into())],
        values: vec![
            Some(sizes[0]),
            Some(sizes[1]),
            Some(sizes[2]),
            Some(live),
            Some(dead),
            Some(10.0),
            Some(90.0),
            Some(1e6),
            vac,
            autovac,
            None,
            Some(1_764_000_000.0),
            Some(0.0),
        ],
    };
    let now = [
        t("small", [8192.0, 0.0, 0.0], 10.0, 0.0, None, None),
        t(
            "orders",
            [1e9, 2e8, 0.0],
            900.0,
            100.0,
            Some(1_764_500_000.0),
            Some(1_764_400_000.0),
        ),
    ];
    let before = [t("orders", [9e8, 2e8, 0.0], 900.0, 0.0, None, None)];
    let i = |name: &str, scans: f64, valid: f64, unique: f64, bytes: f64| Row {
        server_id: 1,
        time: NOW,
        labels: vec![
            Some("app".into()),
            Some("public".into()),
            Some("orders".into()),
            Some(name.into()),
        ],
        values: vec![Some(scans), Some(bytes), Some(valid), Some(unique)],
    };
    let idx = [
        i("orders_pkey", 0.0, 1.0, 1.0, 1e6),
        i("orders_used", 5.0, 1.0, 0.0, 1e6),
        i("orders_unused", 0.0, 1.0, 0.0, 2e6),
        i("orders_broken", 3.0, 0.0, 0.0, 1e5),
    ];
    let p = TablesPage::new(&now, &before, &idx);
    assert_eq!(p.tables[0].name, "orders");
    assert_eq!(p.tables[0].total_bytes, 1.2e9);
    assert_eq!(p.tables[0].growth_bytes_per_day, Some(1e8));
    assert_eq!(p.tables[0].dead_ratio, Some(0.1));
    assert_eq!(
        p.tables[0].last_vacuum.unwrap().unix_timestamp(),
        1_764_500_000,
        "the later of manual and auto"
    );
    assert_eq!(p.tables[1].growth_bytes_per_day, None, "not read a day ago");
    assert_eq!(p.tables[1].last_vacuum, None);
    assert_eq!(
        p.tables[1].last_analyze.unwrap().unix_timestamp(),
        1_764_000_000
    );
    let flagged: Vec<_> = p
        .flagged_indexes
        .iter()
        .map(|x| (x.name.as_str(), x.unused, x.invalid))
        .collect();
    assert_eq!(
        flagged,
        [
            ("orders_unused", true, false),
            ("orders_broken", false, true)
        ]
    );
    assert_eq!((p.table_count, p.index_count), (2, 4));
}
