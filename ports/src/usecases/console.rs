//! The console's page models, built from the same use cases as the REST API answers: the
//! server shell only renders them.

use futures_util::future::try_join_all;
use pganalytics_domain::alerts::channel::Channel;
use pganalytics_domain::alerts::eval::RowsNeed;
use pganalytics_domain::alerts::silence::Silence;
use pganalytics_domain::alerts::state::{AlertState, Phase};
use pganalytics_domain::audit::{AuditQuery, StoredAuditEntry};
use pganalytics_domain::catalog;
use pganalytics_domain::collector::{Collector, MonitoredServer};
use pganalytics_domain::console::charts::{
    Chart, Line, SERVER_CHARTS, SeriesData, Unit, capped, families,
};
use pganalytics_domain::console::fleet::{FleetPage, FleetQuery};
use pganalytics_domain::console::range::TimeRange;
use pganalytics_domain::console::tables::{INDEX_COLUMNS, TABLE_COLUMNS, TablesPage};
use pganalytics_domain::credentials::ApiToken;
use pganalytics_domain::rollup::Tier;
use pganalytics_domain::users::User;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::StoreError;
use crate::store::{AlertFilter, StatementOrder, StoredRule};
use crate::usecases::query::{QueryError, SeriesRequest};
use crate::usecases::server::ServerUseCases;
use crate::usecases::storage::{
    LogCounts, LogPage, LogSearchError, LogSearchRequest, StatementDetail, StatementStep,
    StatementsError, StatementsReply, StatementsRequest,
};

/// The server page: its charts over the range, and which tiers answered.
#[derive(Debug, Clone)]
pub struct ServerPage {
    pub server: MonitoredServer,
    pub range: TimeRange,
    /// The step the charts are drawn at (coarser when a tier's resolution asks for it).
    pub step: time::Duration,
    /// The coarsest tier that answered (raw, hourly or daily rollups).
    pub tier: Tier,
    /// Why a chart is coarser than the range's step, when one is.
    pub downsampled: Option<String>,
    pub charts: Vec<Chart>,
}

fn unix(t: &str) -> Option<i64> {
    OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

impl ServerUseCases {
    /// The fleet page: [`FleetOverview::list`](crate::usecases::FleetOverview::list)
    /// filtered and sorted.
    pub async fn fleet_page(&self, query: FleetQuery) -> Result<FleetPage, StoreError> {
        Ok(FleetPage::new(self.fleet.list().await?, query))
    }

    /// The server page: one query per family its charts read, over `range` at its step.
    ///
    /// # Errors
    /// `Store(NotFound)` for an unknown server.
    pub async fn server_page(
        &self,
        server_id: i64,
        range: TimeRange,
    ) -> Result<ServerPage, QueryError> {
        let server = self
            .servers
            .get(server_id)
            .await
            .map_err(QueryError::Store)?;
        let step = range.step();
        let reads = families(SERVER_CHARTS)
            .into_iter()
            .map(|(family, columns)| {
                self.query.execute(SeriesRequest {
                    server_id,
                    family: family.to_owned(),
                    columns: columns.into_iter().map(str::to_owned).collect(),
                    from: Some(range.from),
                    to: Some(range.to),
                    step: Some(step),
                    filters: Vec::new(),
                })
            });
        let replies = try_join_all(reads).await?;
        let tier = replies
            .iter()
            .map(|r| r.tier)
            .max_by_key(|t| Tier::ALL.iter().position(|x| x == t))
            .unwrap_or(Tier::Raw);
        let downsampled = replies.iter().find_map(|r| r.downsampled.clone());
        let step = replies.iter().map(|r| r.step).max().unwrap_or(step);
        let data: Vec<(String, Vec<SeriesData>)> = families(SERVER_CHARTS)
            .into_iter()
            .zip(replies)
            .map(|((family, _), reply)| {
                let series = reply
                    .series
                    .into_iter()
                    .map(|s| SeriesData {
                        column: s.column.to_owned(),
                        labels: s.labels,
                        points: s
                            .points
                            .iter()
                            .filter_map(|(t, v)| Some((unix(t)?, *v)))
                            .collect(),
                    })
                    .collect();
                (family.to_owned(), series)
            })
            .collect();
        let charts = SERVER_CHARTS
            .iter()
            .map(|spec| {
                let series = data
                    .iter()
                    .find(|(f, _)| f == spec.family)
                    .map_or(&[][..], |(_, s)| s.as_slice());
                spec.chart(series)
            })
            .collect();
        Ok(ServerPage {
            server,
            range,
            step,
            tier,
            downsampled,
            charts,
        })
    }
}

/// A statement's page: its totals per database and user, and its charts.
#[derive(Debug, Clone)]
pub struct StatementPage {
    pub server: MonitoredServer,
    pub range: TimeRange,
    pub detail: StatementDetail,
    pub charts: Vec<Chart>,
}

/// A statement's p50 / p95 / p99 from the log (`pg_statement_latency`), in seconds, one
/// line per quantile and database; `None` when the log gave none.
pub fn latency_chart(series: &[crate::usecases::query::Series]) -> Option<Chart> {
    let lines: Vec<Line> = series
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| {
            let quantile = s.column.trim_end_matches("_ms");
            let label = match s.labels.get("datname").cloned().flatten() {
                Some(db)
                    if series
                        .iter()
                        .any(|o| o.labels.get("datname") != s.labels.get("datname")) =>
                {
                    format!("{quantile} ({db})")
                }
                _ => quantile.to_owned(),
            };
            let points = s
                .points
                .iter()
                .filter_map(|(t, v)| {
                    let t = OffsetDateTime::parse(t, &Rfc3339).ok()?;
                    Some((t.unix_timestamp(), v / 1000.0))
                })
                .collect();
            Line { label, points }
        })
        .collect();
    (!lines.is_empty()).then_some(Chart {
        id: "log-latency",
        title: "Latency from the server log (p50 / p95 / p99)",
        unit: Unit::Seconds,
        lines,
    })
}

/// The charts of a statement's steps: calls, mean time, rows, and blocks.
pub fn statement_charts(steps: &[StatementStep]) -> Vec<Chart> {
    let points = |f: &dyn Fn(&StatementStep) -> Option<f64>| -> Vec<(i64, f64)> {
        steps
            .iter()
            .filter_map(|s| Some((s.time.unix_timestamp(), f(s)?)))
            .collect()
    };
    let chart = |id, title, unit, lines: Vec<(&str, Vec<(i64, f64)>)>| Chart {
        id,
        title,
        unit,
        lines: lines
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(label, points)| Line {
                label: label.to_owned(),
                points,
            })
            .collect(),
    };
    vec![
        chart(
            "calls",
            "Calls per step",
            Unit::Count,
            vec![("calls", points(&|s| Some(s.calls)))],
        ),
        chart(
            "mean-time",
            "Mean execution time",
            Unit::Seconds,
            vec![("mean", points(&|s| s.mean_time_ms.map(|v| v / 1000.0)))],
        ),
        chart(
            "rows",
            "Rows per call",
            Unit::Count,
            vec![("rows", points(&|s| s.rows_per_call))],
        ),
        chart(
            "blocks",
            "Shared blocks per step",
            Unit::Count,
            vec![
                ("hit", points(&|s| Some(s.shared_blks_hit))),
                ("read", points(&|s| Some(s.shared_blks_read))),
                ("temp written", points(&|s| Some(s.temp_blks_written))),
            ],
        ),
    ]
}

impl ServerUseCases {
    /// The queries page: the server's top statements over `range`.
    pub async fn statements_page(
        &self,
        server_id: i64,
        range: &TimeRange,
        order: StatementOrder,
    ) -> Result<(MonitoredServer, StatementsReply), StatementsError> {
        let server = self.servers.get(server_id).await?;
        let reply = self
            .statements
            .top(StatementsRequest {
                server_id,
                from: Some(range.from),
                to: Some(range.to),
                order: Some(order),
                limit: Some(100),
                datname: None,
                username: None,
            })
            .await?;
        Ok((server, reply))
    }

    /// One statement's page.
    pub async fn statement_page(
        &self,
        server_id: i64,
        queryid: &str,
        range: TimeRange,
    ) -> Result<StatementPage, StatementsError> {
        let server = self.servers.get(server_id).await?;
        let detail = self
            .statements
            .detail(
                server_id,
                queryid,
                Some(range.from),
                Some(range.to),
                Some(range.step()),
            )
            .await?;
        let mut charts = statement_charts(&detail.series);
        // Its latency quantiles from the server log's duration lines, when the agent sends
        // them (log_min_duration_statement and a query id in the log).
        let latency = self
            .query
            .execute(SeriesRequest {
                server_id,
                family: "pg_statement_latency".to_owned(),
                columns: ["p50_ms", "p95_ms", "p99_ms"].map(str::to_owned).to_vec(),
                from: Some(range.from),
                to: Some(range.to),
                step: Some(range.step()),
                filters: vec![("query_id".to_owned(), queryid.to_owned())],
            })
            .await;
        if let Ok(reply) = latency {
            charts.extend(latency_chart(&reply.series));
        }
        Ok(StatementPage {
            server,
            range,
            detail,
            charts,
        })
    }
}

/// How far back the tables page looks for the latest catalog reading (the agent reads
/// tables and indexes every few minutes).
const CATALOG_LOOKBACK: time::Duration = time::Duration::minutes(30);

/// Catalog rows one read may return (a large catalog: 500,000 relations).
const MAX_CATALOG_ROWS: usize = 1_000_000;

impl ServerUseCases {
    /// The tables-and-indexes page: the latest catalog reading and the one a day before.
    pub async fn tables_page(
        &self,
        server_id: i64,
    ) -> Result<(MonitoredServer, TablesPage), StoreError> {
        let server = self.servers.get(server_id).await?;
        let now = self.fleet.clock.now();
        let need = |family: &str, columns: &[&str], to: OffsetDateTime| {
            let family = catalog::family(family)
                .ok_or_else(|| StoreError::Invalid(format!("unknown family {family}")))?;
            Ok::<_, StoreError>(RowsNeed {
                family,
                columns: columns
                    .iter()
                    .filter_map(|c| family.column(c).map(|(_, c)| c))
                    .collect(),
                filters: vec![],
                from: to - CATALOG_LOOKBACK,
                to,
                servers: vec![server_id],
            })
        };
        let m = &self.fleet.metrics;
        let day_ago = now - time::Duration::days(1);
        let (tables, before, indexes) = futures_util::future::try_join3(
            m.read_latest(&need("pg_table", &TABLE_COLUMNS, now)?, MAX_CATALOG_ROWS),
            m.read_latest(
                &need("pg_table", &TABLE_COLUMNS[..3], day_ago)?,
                MAX_CATALOG_ROWS,
            ),
            m.read_latest(&need("pg_index", &INDEX_COLUMNS, now)?, MAX_CATALOG_ROWS),
        )
        .await?;
        Ok((server, TablesPage::new(&tables, &before, &indexes)))
    }
}

/// The logs page: a page of matching events, their counts by kind as a chart, and the
/// servers to pick from.
#[derive(Debug, Clone)]
pub struct LogsPage {
    pub events: LogPage,
    pub counts: Chart,
    pub step: time::Duration,
    pub servers: Vec<MonitoredServer>,
}

/// Counts per kind and bucket as a chart, one line per kind (the most frequent kinds; the
/// rest as "other").
pub fn log_counts_chart(counts: &LogCounts) -> Chart {
    // Every bucket of the range, so a kind's quiet buckets read 0, not a gap.
    let step = counts.step.whole_seconds().max(1);
    let first = counts.from.unix_timestamp().div_euclid(step) * step;
    let buckets: Vec<i64> = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t < counts.to.unix_timestamp())
        .collect();
    let mut by: std::collections::BTreeMap<String, std::collections::BTreeMap<i64, f64>> =
        Default::default();
    for c in &counts.counts {
        *by.entry(c.kind.clone().unwrap_or_else(|| "unclassified".into()))
            .or_default()
            .entry(c.bucket.unix_timestamp())
            .or_default() += c.count as f64;
    }
    let mut lines: Vec<Line> = by
        .into_iter()
        .map(|(label, mut points)| {
            for b in &buckets {
                points.entry(*b).or_insert(0.0);
            }
            Line {
                label,
                points: points.into_iter().collect(),
            }
        })
        .collect();
    let weight = |l: &Line| l.points.iter().map(|(_, v)| v).sum::<f64>();
    lines.sort_by(|a, b| weight(b).total_cmp(&weight(a)).then(a.label.cmp(&b.label)));
    Chart {
        id: "log-counts",
        title: "Events by kind",
        unit: Unit::Count,
        lines: capped(lines),
    }
}

impl ServerUseCases {
    pub async fn logs_page(&self, req: &LogSearchRequest) -> Result<LogsPage, LogSearchError> {
        let (events, counts, servers) = futures_util::future::try_join3(
            self.log_events.page(req),
            self.log_events.counts(req, None),
            async { self.servers.list().await.map_err(LogSearchError::from) },
        )
        .await?;
        Ok(LogsPage {
            events,
            step: counts.step,
            counts: log_counts_chart(&counts),
            servers,
        })
    }
}

/// The alerts page.
#[derive(Debug, Clone)]
pub struct AlertsPage {
    pub firing: Vec<AlertState>,
    pub pending: Vec<AlertState>,
    /// The latest resolved, newest first.
    pub resolved: Vec<AlertState>,
    pub silences: Vec<Silence>,
    pub rules: Vec<StoredRule>,
    /// Only for people who manage channels.
    pub channels: Option<Vec<Channel>>,
    pub server_names: std::collections::BTreeMap<i64, String>,
}

/// Resolved alerts the page lists.
const RESOLVED_LISTED: usize = 50;

impl ServerUseCases {
    /// The alerts page, for one server or all; channels when `with_channels`.
    pub async fn alerts_page(
        &self,
        server_id: Option<i64>,
        with_channels: bool,
    ) -> Result<AlertsPage, StoreError> {
        let filter = |phase, limit| AlertFilter {
            phase: Some(phase),
            severity: None,
            server_id,
            rule: None,
            limit,
        };
        use futures_util::future::{try_join, try_join3};
        let (firing, pending, resolved) = (
            filter(Phase::Firing, usize::MAX),
            filter(Phase::Pending, usize::MAX),
            filter(Phase::Resolved, usize::MAX),
        );
        let ((firing, pending, mut resolved), (silences, rules, servers)) = try_join(
            try_join3(
                self.alerts.list(&firing),
                self.alerts.list(&pending),
                self.alerts.list(&resolved),
            ),
            try_join3(
                self.alerts.list_silences(false),
                self.rules.list(),
                self.servers.list(),
            ),
        )
        .await?;
        resolved.sort_by_key(|a| std::cmp::Reverse(a.resolved_at));
        resolved.truncate(RESOLVED_LISTED);
        let channels = if with_channels {
            Some(self.channels.list().await?)
        } else {
            None
        };
        Ok(AlertsPage {
            firing,
            pending,
            resolved,
            silences,
            rules,
            channels,
            server_names: servers
                .into_iter()
                .map(|s| (s.id, s.instance.as_str().to_owned()))
                .collect(),
        })
    }
}

/// The admin page: collectors, users, API tokens and the latest audit entries.
#[derive(Debug, Clone)]
pub struct AdminPage {
    pub collectors: Vec<Collector>,
    pub users: Vec<User>,
    pub api_tokens: Vec<ApiToken>,
    pub audit: Vec<StoredAuditEntry>,
    /// Certificates ending within this are flagged (the built-in alert's threshold).
    pub expiry_warning: time::Duration,
    pub now: OffsetDateTime,
}

/// Audit entries the admin page lists.
const AUDIT_LISTED: usize = 100;

impl ServerUseCases {
    pub async fn admin_page(&self) -> Result<AdminPage, StoreError> {
        let (collectors, users, api_tokens) = futures_util::future::try_join3(
            self.collectors.list(),
            self.users.list(),
            self.api_tokens.list(),
        )
        .await?;
        let audit = self
            .audit_log
            .list(AuditQuery {
                limit: AUDIT_LISTED,
                ..AuditQuery::default()
            })
            .await?;
        Ok(AdminPage {
            collectors,
            users,
            api_tokens,
            audit,
            expiry_warning: time::Duration::days(20),
            now: self.fleet.clock.now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LogCount;
    use time::macros::datetime;

    #[test]
    fn log_counts_fill_quiet_buckets_and_rank_kinds() {
        let from = datetime!(2026-12-01 10:00 UTC);
        let at = |m: i64| from + time::Duration::minutes(m);
        let count = |m, kind: Option<&str>, n| LogCount {
            bucket: at(m),
            kind: kind.map(str::to_owned),
            count: n,
        };
        let c = log_counts_chart(&LogCounts {
            from,
            to: at(5),
            step: time::Duration::minutes(1),
            counts: vec![
                count(1, Some("checkpoint_complete"), 1),
                count(3, None, 4),
                count(4, None, 1),
            ],
        });
        assert_eq!(c.unit, Unit::Count);
        let labels: Vec<_> = c.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            ["unclassified", "checkpoint_complete"],
            "most events first"
        );
        let t = |m: i64| at(m).unix_timestamp();
        assert_eq!(
            c.lines[1].points,
            vec![
                (t(0), 0.0),
                (t(1), 1.0),
                (t(2), 0.0),
                (t(3), 0.0),
                (t(4), 0.0)
            ]
        );
    }

    #[test]
    fn the_log_latency_chart_has_a_line_per_quantile_in_seconds() {
        use crate::usecases::query::Series;
        let series = |column: &'static str, ms: f64| Series {
            column,
            kind: catalog::ColumnKind::Gauge,
            unit: "value",
            labels: [
                ("datname".to_owned(), Some("shop".to_owned())),
                ("query_id".to_owned(), Some("42".to_owned())),
            ]
            .into(),
            points: vec![("2026-11-21T07:00:00Z".to_owned(), ms)],
        };
        let chart = latency_chart(&[
            series("p50_ms", 2.0),
            series("p95_ms", 40.0),
            series("p99_ms", 90.0),
        ])
        .unwrap();
        assert_eq!(chart.id, "log-latency");
        let lines: Vec<(&str, f64)> = chart
            .lines
            .iter()
            .map(|l| (l.label.as_str(), l.points[0].1))
            .collect();
        assert_eq!(lines, vec![("p50", 0.002), ("p95", 0.04), ("p99", 0.09)]);
        assert!(latency_chart(&[]).is_none());
    }

    #[test]
    fn a_statement_charts_calls_mean_time_rows_and_blocks() {
        let step = |m: i64, calls: f64| StatementStep {
            time: datetime!(2026-12-01 10:00 UTC) + time::Duration::minutes(m),
            calls,
            total_time_ms: calls * 20.0,
            mean_time_ms: (calls > 0.0).then_some(20.0),
            rows: calls,
            rows_per_call: (calls > 0.0).then_some(1.0),
            shared_blks_hit: 10.0,
            shared_blks_read: 1.0,
            temp_blks_written: 0.0,
        };
        let charts = statement_charts(&[step(0, 5.0), step(1, 0.0)]);
        let ids: Vec<_> = charts.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["calls", "mean-time", "rows", "blocks"]);
        assert_eq!(charts[0].lines[0].points.len(), 2);
        // A step without calls has no mean time: no point, not a zero.
        assert_eq!(charts[1].lines[0].points.len(), 1);
        assert_eq!(charts[1].lines[0].points[0].1, 0.02, "seconds");
        assert_eq!(charts[3].lines.len(), 3);
    }
}
