//! The server page's charts: which family and columns each draws, and how the series the
//! query answers (one per column and label set, already per-second rates for counters)
//! fold into a chart's lines.

use std::collections::BTreeMap;

/// How a chart's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Events per second.
    PerSecond,
    BytesPerSecond,
    Bytes,
    /// 0 to 100.
    Percent,
    Seconds,
    /// A plain number (sessions, load).
    Count,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerSecond => "per_second",
            Self::BytesPerSecond => "bytes_per_second",
            Self::Bytes => "bytes",
            Self::Percent => "percent",
            Self::Seconds => "seconds",
            Self::Count => "count",
        }
    }
}

/// How a chart's lines come out of its family's series.
#[derive(Debug, Clone, Copy)]
pub enum Lines {
    /// One line per column (with its label), summed over every label set, times `scale`.
    Columns {
        columns: &'static [(&'static str, &'static str)],
        scale: f64,
    },
    /// One line per value of `label`: `column` summed over the other labels.
    ByLabel {
        column: &'static str,
        label: &'static str,
    },
    /// One line per column: its share of the sum of `of`, in percent.
    Shares {
        columns: &'static [(&'static str, &'static str)],
        of: &'static [&'static str],
    },
}

impl Lines {
    /// The columns the query must read.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = match self {
            Self::Columns { columns, .. } => columns.iter().map(|(c, _)| *c).collect(),
            Self::ByLabel { column, .. } => vec![column],
            Self::Shares { columns, of } => columns
                .iter()
                .map(|(c, _)| *c)
                .chain(of.iter().copied())
                .collect(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// One chart of the server page.
#[derive(Debug, Clone, Copy)]
pub struct ChartSpec {
    /// Its anchor on the page.
    pub id: &'static str,
    pub title: &'static str,
    pub family: &'static str,
    pub unit: Unit,
    pub lines: Lines,
    /// Only series whose label has this value (e.g. the all-CPU row).
    pub only: Option<(&'static str, &'static str)>,
}

const fn cols(columns: &'static [(&'static str, &'static str)]) -> Lines {
    Lines::Columns {
        columns,
        scale: 1.0,
    }
}

/// The server page's charts, in page order: database activity, then the host.
pub const SERVER_CHARTS: &[ChartSpec] = &[
    ChartSpec {
        id: "transactions",
        title: "Transactions and rollbacks",
        family: "pg_database",
        unit: Unit::PerSecond,
        lines: cols(&[("xact_commit", "commits"), ("xact_rollback", "rollbacks")]),
        only: None,
    },
    ChartSpec {
        id: "sessions-state",
        title: "Sessions by state",
        family: "pg_activity",
        unit: Unit::Count,
        lines: Lines::ByLabel {
            column: "sessions",
            label: "state",
        },
        only: None,
    },
    ChartSpec {
        id: "sessions-wait",
        title: "Sessions by wait-event type",
        family: "pg_activity",
        unit: Unit::Count,
        lines: Lines::ByLabel {
            column: "sessions",
            label: "wait_event_type",
        },
        only: None,
    },
    ChartSpec {
        id: "cache-hit",
        title: "Cache hit ratio",
        family: "pg_database",
        unit: Unit::Percent,
        lines: Lines::Shares {
            columns: &[("blks_hit", "hit")],
            of: &["blks_hit", "blks_read"],
        },
        only: None,
    },
    ChartSpec {
        id: "tuples",
        title: "Tuples",
        family: "pg_database",
        unit: Unit::PerSecond,
        lines: cols(&[
            ("tup_returned", "returned"),
            ("tup_fetched", "fetched"),
            ("tup_inserted", "inserted"),
            ("tup_updated", "updated"),
            ("tup_deleted", "deleted"),
        ]),
        only: None,
    },
    ChartSpec {
        id: "temp",
        title: "Temporary files",
        family: "pg_database",
        unit: Unit::BytesPerSecond,
        lines: cols(&[("temp_bytes", "written")]),
        only: None,
    },
    ChartSpec {
        id: "deadlocks",
        title: "Deadlocks and conflicts",
        family: "pg_database",
        unit: Unit::PerSecond,
        lines: cols(&[
            ("deadlocks", "deadlocks"),
            ("conflicts", "recovery conflicts"),
        ]),
        only: None,
    },
    ChartSpec {
        id: "checkpoints",
        title: "Checkpoints",
        family: "pg_bgwriter",
        unit: Unit::PerSecond,
        lines: cols(&[
            ("checkpoints_timed", "timed"),
            ("checkpoints_req", "requested"),
        ]),
        only: None,
    },
    ChartSpec {
        id: "wal",
        title: "WAL written",
        family: "pg_wal",
        unit: Unit::BytesPerSecond,
        lines: cols(&[("wal_bytes", "WAL")]),
        only: None,
    },
    ChartSpec {
        id: "replication",
        title: "Replication lag",
        family: "pg_replication",
        unit: Unit::Seconds,
        lines: Lines::ByLabel {
            column: "replay_lag_seconds",
            label: "application_name",
        },
        only: None,
    },
    ChartSpec {
        id: "cpu",
        title: "Host CPU",
        family: "sys_cpu",
        unit: Unit::Percent,
        lines: Lines::Shares {
            columns: &[
                ("user_ms", "user"),
                ("system_ms", "system"),
                ("iowait_ms", "iowait"),
                ("steal_ms", "steal"),
            ],
            of: &[
                "user_ms",
                "nice_ms",
                "system_ms",
                "idle_ms",
                "iowait_ms",
                "irq_ms",
                "softirq_ms",
                "steal_ms",
            ],
        },
        only: Some(("cpu", "all")),
    },
    ChartSpec {
        id: "memory",
        title: "Host memory",
        family: "sys_memory",
        unit: Unit::Bytes,
        lines: cols(&[
            ("total_bytes", "total"),
            ("available_bytes", "available"),
            ("cached_bytes", "cached"),
            ("dirty_bytes", "dirty"),
        ]),
        only: None,
    },
    ChartSpec {
        id: "load",
        title: "Host load",
        family: "sys_load",
        unit: Unit::Count,
        lines: cols(&[("load1", "1 min"), ("load5", "5 min"), ("load15", "15 min")]),
        only: None,
    },
    ChartSpec {
        id: "disk-io",
        title: "Disk I/O",
        family: "sys_disk_io",
        unit: Unit::BytesPerSecond,
        // Sectors are 512 bytes in /proc/diskstats, whatever the device's sector size.
        lines: Lines::Columns {
            columns: &[("sectors_read", "read"), ("sectors_written", "written")],
            scale: 512.0,
        },
        only: None,
    },
    ChartSpec {
        id: "network",
        title: "Network",
        family: "sys_network",
        unit: Unit::BytesPerSecond,
        lines: cols(&[("rx_bytes", "received"), ("tx_bytes", "sent")]),
        only: None,
    },
    ChartSpec {
        id: "disk-space",
        title: "Disk space used",
        family: "disk_usage",
        unit: Unit::Bytes,
        lines: Lines::ByLabel {
            column: "used_bytes",
            label: "mountpoint",
        },
        only: None,
    },
];

/// The most lines a chart draws; the rest are summed into one "other" line.
pub const MAX_LINES: usize = 8;

/// A series as the query answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub column: String,
    pub labels: BTreeMap<String, Option<String>>,
    /// (unix seconds, value), one per step that has data.
    pub points: Vec<(i64, f64)>,
}

/// A drawn line: a name and its points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// A chart ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    pub lines: Vec<Line>,
}

type Sums = BTreeMap<i64, f64>;

fn add(into: &mut Sums, points: &[(i64, f64)], scale: f64) {
    for &(t, v) in points {
        if v.is_finite() {
            *into.entry(t).or_default() += v * scale;
        }
    }
}

fn line(label: &str, sums: Sums) -> Line {
    Line {
        label: label.to_owned(),
        points: sums.into_iter().collect(),
    }
}

impl ChartSpec {
    /// Folds the family's series into this chart's lines.
    pub fn chart(&self, series: &[SeriesData]) -> Chart {
        let wanted = |s: &&SeriesData| {
            self.only.is_none_or(|(label, value)| {
                s.labels.get(label).and_then(|v| v.as_deref()) == Some(value)
            })
        };
        let of_column = |column: &str| {
            let mut sums = Sums::new();
            for s in series.iter().filter(wanted).filter(|s| s.column == column) {
                add(&mut sums, &s.points, 1.0);
            }
            sums
        };
        let lines = match self.lines {
            Lines::Columns { columns, scale } => columns
                .iter()
                .map(|(column, label)| {
                    let sums = of_column(column);
                    line(
                        label,
                        sums.into_iter().map(|(t, v)| (t, v * scale)).collect(),
                    )
                })
                .filter(|l| !l.points.is_empty())
                .collect(),
            Lines::ByLabel { column, label } => {
                let mut by: BTreeMap<String, Sums> = BTreeMap::new();
                for s in series.iter().filter(wanted).filter(|s| s.column == column) {
                    let name = s
                        .labels
                        .get(label)
                        .and_then(|v| v.clone())
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "none".to_owned());
                    add(by.entry(name).or_default(), &s.points, 1.0);
                }
                capped(by.into_iter().map(|(k, v)| line(&k, v)).collect())
            }
            Lines::Shares { columns, of } => {
                let mut total = Sums::new();
                for c in of {
                    for (t, v) in of_column(c) {
                        *total.entry(t).or_default() += v;
                    }
                }
                columns
                    .iter()
                    .map(|(column, label)| {
                        let share = of_column(column)
                            .into_iter()
                            .filter_map(|(t, v)| {
                                let all = total.get(&t).copied().unwrap_or(0.0);
                                (all > 0.0).then(|| (t, 100.0 * v / all))
                            })
                            .collect();
                        line(label, share)
                    })
                    .filter(|l| !l.points.is_empty())
                    .collect()
            }
        };
        Chart {
            id: self.id,
            title: self.title,
            unit: self.unit,
            lines,
        }
    }
}

/// At most [`MAX_LINES`]: the largest by their sum, and "other" for the rest.
pub fn capped(mut lines: Vec<Line>) -> Vec<Line> {
    if lines.len() <= MAX_LINES {
        return lines;
    }
    let weight = |l: &Line| l.points.iter().map(|(_, v)| v.abs()).sum::<f64>();
    lines.sort_by(|a, b| weight(b).total_cmp(&weight(a)).then(a.label.cmp(&b.label)));
    let rest = lines.split_off(MAX_LINES - 1);
    let mut other = Sums::new();
    for l in &rest {
        add(&mut other, &l.points, 1.0);
    }
    lines.push(line("other", other));
    lines
}

/// The families the server page reads, each with the columns its charts need.
pub fn families(charts: &[ChartSpec]) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for c in charts {
        let cols = out.entry(c.family).or_default();
        cols.extend(c.lines.columns());
        cols.sort_unstable();
        cols.dedup();
    }
    out.into_iter().collect()
}
