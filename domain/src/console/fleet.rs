//! The fleet page: every server's row, filtered and sorted as the person asked, with a
//! count per state for the summary line.

use crate::fleet::{FleetRow, ServerState};

/// What the fleet table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetSort {
    /// Most urgent first: state, then firing alerts, then name.
    Urgency,
    Name,
    Version,
    Alerts,
    Connections,
    Tps,
    CacheHit,
    Lag,
    DiskFree,
}

impl FleetSort {
    pub const ALL: [Self; 9] = [
        Self::Urgency,
        Self::Name,
        Self::Version,
        Self::Alerts,
        Self::Connections,
        Self::Tps,
        Self::CacheHit,
        Self::Lag,
        Self::DiskFree,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgency => "urgency",
            Self::Name => "name",
            Self::Version => "version",
            Self::Alerts => "alerts",
            Self::Connections => "connections",
            Self::Tps => "tps",
            Self::CacheHit => "cache_hit",
            Self::Lag => "lag",
            Self::DiskFree => "disk_free",
        }
    }

    /// Unknown names fall back to urgency (a stale bookmark still opens the page).
    pub fn parse(s: Option<&str>) -> Self {
        Self::ALL
            .into_iter()
            .find(|x| Some(x.as_str()) == s)
            .unwrap_or(Self::Urgency)
    }
}

/// The person's choices on the fleet page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQuery {
    pub sort: FleetSort,
    pub descending: bool,
    /// Only servers in this state.
    pub state: Option<ServerState>,
    /// Only servers whose instance or collector name contains this (any case).
    pub text: String,
}

impl Default for FleetQuery {
    fn default() -> Self {
        Self {
            sort: FleetSort::Urgency,
            descending: false,
            state: None,
            text: String::new(),
        }
    }
}

/// The fleet page.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetPage {
    pub query: FleetQuery,
    /// The rows shown, in order.
    pub rows: Vec<FleetRow>,
    /// Servers in each state, over the whole fleet (not only the rows shown), urgent first.
    pub counts: Vec<(ServerState, usize)>,
    pub total: usize,
}

fn urgency(s: ServerState) -> u8 {
    match s {
        ServerState::AgentSilent => 0,
        ServerState::Unreachable => 1,
        ServerState::Maintenance => 2,
        ServerState::Up => 3,
    }
}

/// Missing figures sort last whichever the direction.
fn by_figure(a: Option<f64>, b: Option<f64>, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Greater, Less};
    match (a, b) {
        (Some(x), Some(y)) if descending => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// "16.4" → (16, 4) for sorting; unknown last.
fn version_key(v: Option<&str>) -> Option<f64> {
    let v = v?;
    let mut parts = v.split('.');
    let major: f64 = parts.next()?.parse().ok()?;
    let minor: f64 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0.0);
    Some(major * 1000.0 + minor)
}

impl FleetPage {
    pub fn new(rows: Vec<FleetRow>, query: FleetQuery) -> Self {
        let total = rows.len();
        let mut counts: Vec<(ServerState, usize)> = Vec::new();
        for r in &rows {
            match counts.iter_mut().find(|(s, _)| *s == r.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.state, 1)),
            }
        }
        counts.sort_by_key(|(s, _)| urgency(*s));
        let needle = query.text.trim().to_lowercase();
        let mut rows: Vec<FleetRow> = rows
            .into_iter()
            .filter(|r| query.state.is_none_or(|s| r.state == s))
            .filter(|r| {
                needle.is_empty()
                    || r.instance.to_lowercase().contains(&needle)
                    || r.collector.to_lowercase().contains(&needle)
            })
            .collect();
        let name = |a: &FleetRow, b: &FleetRow| {
            (a.collector.as_str(), a.instance.as_str(), a.server_id).cmp(&(
                b.collector.as_str(),
                b.instance.as_str(),
                b.server_id,
            ))
        };
        let d = query.descending;
        rows.sort_by(|a, b| {
            let primary = match query.sort {
                FleetSort::Urgency => urgency(a.state)
                    .cmp(&urgency(b.state))
                    .then(b.firing_alerts.cmp(&a.firing_alerts))
                    .then(b.pending_alerts.cmp(&a.pending_alerts)),
                FleetSort::Name => std::cmp::Ordering::Equal,
                FleetSort::Version => by_figure(
                    version_key(a.version.as_deref()),
                    version_key(b.version.as_deref()),
                    d,
                ),
                FleetSort::Alerts => by_figure(
                    Some(f64::from(a.firing_alerts) + f64::from(a.pending_alerts) / 1000.0),
                    Some(f64::from(b.firing_alerts) + f64::from(b.pending_alerts) / 1000.0),
                    d,
                ),
                FleetSort::Connections => by_figure(a.connections, b.connections, d),
                FleetSort::Tps => {
                    by_figure(a.transactions_per_second, b.transactions_per_second, d)
                }
                FleetSort::CacheHit => by_figure(a.cache_hit_ratio, b.cache_hit_ratio, d),
                FleetSort::Lag => {
                    by_figure(a.replication_lag_seconds, b.replication_lag_seconds, d)
                }
                FleetSort::DiskFree => by_figure(a.disk_free_ratio, b.disk_free_ratio, d),
            };
            let primary = match query.sort {
                // Urgency and name have no missing values: the direction flips them whole.
                FleetSort::Urgency | FleetSort::Name if d => primary.reverse(),
                _ => primary,
            };
            let tie = name(a, b);
            primary.then(if d && query.sort == FleetSort::Name {
                tie.reverse()
            } else {
                tie
            })
        });
        Self {
            query,
            rows,
            counts,
            total,
        }
    }
}
