//! Evaluation of a rule against the data it asks for: what the store must read
//! ([`Need`]), and the alerts the readings raise ([`Observation`]). Pure: time comes in.

use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use super::fold::{self, Fold, FoldedRow};
use super::matcher::all_match;
use super::rule::{
    AbsenceCondition, AbsenceTarget, Aggregate, Condition, Function, LogCondition, MetricCondition,
    Rule, Severity, family_interval, push_interval,
};
use super::span::Span;
use crate::catalog::{self, ColumnSpec, FamilySpec};
use crate::config::Intervals;
use crate::rates::diff_since;

/// A monitored server as the evaluator sees it.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub id: i64,
    /// The instance name the agent reports it under.
    pub name: String,
    pub collector: String,
    pub intervals: Intervals,
    /// When the collector last pushed; `None` if never (or revoked: not watched).
    pub collector_last_seen: Option<OffsetDateTime>,
    /// When the collector's certificate expires.
    pub certificate_not_after: Option<OffsetDateTime>,
}

impl ServerInfo {
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("server".to_owned(), self.name.clone()),
            ("collector".to_owned(), self.collector.clone()),
            ("server_id".to_owned(), self.id.to_string()),
        ])
    }

    /// Whether its agent pushed within `intervals` × its push interval.
    fn collector_alive(&self, now: OffsetDateTime, intervals: u32) -> bool {
        let limit = push_interval(&self.intervals).duration() * intervals;
        self.collector_last_seen.is_some_and(|t| now - t <= limit)
    }
}

/// Rows of a family must match every filter: the column equals one of `values` (or starts
/// with one, for `prefix`).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFilter {
    pub column: &'static str,
    pub values: Vec<String>,
    pub prefix: bool,
}

impl LabelFilter {
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(v) = value else { return false };
        self.values.iter().any(|want| {
            if self.prefix {
                v.starts_with(want.as_str())
            } else {
                v == want
            }
        })
    }
}

/// The rows of one family a rule needs: `from <= time <= to`, on these servers.
#[derive(Debug, Clone)]
pub struct RowsNeed {
    pub family: &'static FamilySpec,
    /// Read as numbers (timestamps as seconds since the epoch); may be empty (count rows).
    pub columns: Vec<&'static ColumnSpec>,
    pub filters: Vec<LabelFilter>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub servers: Vec<i64>,
}

/// Folds of a family's readings per series and hour ([`fold`]): the window's
/// (`rows.from..=rows.to`), and the baseline's whole hours.
#[derive(Debug, Clone)]
pub struct FoldsNeed {
    pub rows: RowsNeed,
    /// What is folded.
    pub exprs: Vec<fold::FoldExpr>,
    /// The baseline's hours, `from..to`, both on the hour.
    pub baseline: Option<(OffsetDateTime, OffsetDateTime)>,
}

#[derive(Debug, Clone)]
pub enum Need {
    Rows(RowsNeed),
    /// The rows of each server's latest reading time in the window (all a rule of latest
    /// values needs: the agent sends a family's series together).
    Latest(RowsNeed),
    Folds(FoldsNeed),
    /// The latest time of the family per server, looking back to `since`.
    LastSeen {
        family: &'static FamilySpec,
        since: OffsetDateTime,
        servers: Vec<i64>,
    },
    /// Nothing beyond the server list (the collectors' last check-in).
    Servers,
    Sql {
        query: String,
        timeout: Span,
    },
}

/// One row: the family's labels in catalog order, then the needed columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub server_id: i64,
    pub time: OffsetDateTime,
    pub labels: Vec<Option<String>>,
    pub values: Vec<Option<f64>>,
}

/// A row of an SQL rule's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRow {
    pub server_id: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub value: Option<f64>,
}

/// What the store read for a [`Need`].
#[derive(Debug, Clone)]
pub enum Data {
    Rows(Vec<Row>),
    Folds {
        recent: Vec<FoldedRow>,
        baseline: Vec<FoldedRow>,
    },
    LastSeen(BTreeMap<i64, OffsetDateTime>),
    Servers,
    Sql(Vec<SqlRow>),
}

/// An alert condition that holds now, for one label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub server_id: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub severity: Severity,
    /// The threshold crossed.
    pub threshold: f64,
}

/// How far back the absence of a family is looked for: older silence is a server gone, not
/// an alert.
pub const ABSENCE_LOOKBACK: Duration = Duration::days(2);

/// The servers a rule watches (its scope's matchers on `server`, `collector`, `server_id`).
pub fn servers_in_scope<'a>(rule: &Rule, servers: &'a [ServerInfo]) -> Vec<&'a ServerInfo> {
    let matchers: Vec<_> = rule.server_scope().cloned().collect();
    servers
        .iter()
        .filter(|s| all_match(&matchers, &s.labels()))
        .collect()
}

/// How often `rule` is worth evaluating: as often as what it reads can change, the
/// collection interval of its family (the shortest among `servers`); `None` (every cycle)
/// for the rest: log events, absences, certificates and SQL.
pub fn cadence(rule: &Rule, servers: &[&ServerInfo]) -> Option<Span> {
    let Condition::Metric(m) = &rule.condition else {
        return None;
    };
    let group = m.family.group?;
    let shortest = servers.iter().map(|s| group.interval(&s.intervals)).min()?;
    Some(Span::seconds(i64::try_from(shortest.as_secs()).ok()?))
}

/// Whether a rule last evaluated at `last` is due at `now`: once in each period of
/// `cadence`, at a phase of its own, so that the rules of slow families spread over the
/// cycles instead of all running in the same one.
pub fn due(
    name: &str,
    cadence: Option<Span>,
    last: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> bool {
    let (Some(cadence), Some(last)) = (cadence, last) else {
        return true;
    };
    let period = cadence.as_seconds();
    if period <= 1 {
        return true;
    }
    // FNV-1a: a phase that stays the same across restarts and versions.
    let hash = crate::hash::fnv1a(name.as_bytes());
    let phase = i64::try_from(hash % period.unsigned_abs()).unwrap_or(0);
    let slot = |t: OffsetDateTime| (t.unix_timestamp() + phase).div_euclid(period);
    slot(now) != slot(last)
}

/// What the store must read to evaluate `rule` at `now` on `servers`.
pub fn need(rule: &Rule, servers: &[&ServerInfo], now: OffsetDateTime) -> Need {
    let ids: Vec<i64> = servers.iter().map(|s| s.id).collect();
    match &rule.condition {
        Condition::Metric(m) if latest_only(m) => Need::Latest(RowsNeed {
            family: m.family,
            columns: m.columns.clone(),
            filters: metric_filters(m),
            from: now - m.window.duration(),
            to: now,
            servers: ids,
        }),
        Condition::Metric(m) if fold::condition_folds(m) => {
            let window_start = now - m.window.duration();
            Need::Folds(FoldsNeed {
                rows: RowsNeed {
                    family: m.family,
                    columns: m.columns.clone(),
                    filters: metric_filters(m),
                    from: window_start,
                    to: now,
                    servers: ids,
                },
                exprs: fold::exprs(m),
                // A baseline of whole hours, ending at the hour the window starts in.
                baseline: m.baseline.map(|b| {
                    let to = fold::hour_of(window_start);
                    (to - b.duration(), to)
                }),
            })
        }
        Condition::Metric(m) => Need::Rows(RowsNeed {
            family: m.family,
            columns: m.columns.clone(),
            filters: metric_filters(m),
            from: now - m.window.duration() - m.baseline.unwrap_or(Span::ZERO).duration(),
            to: now,
            servers: ids,
        }),
        Condition::Log(l) => Need::Rows(RowsNeed {
            family: catalog::family("pg_log_event").expect("catalog"),
            columns: Vec::new(),
            filters: log_filters(l),
            from: now - l.window.duration(),
            to: now,
            servers: ids,
        }),
        Condition::Absence(a) => match a.target {
            AbsenceTarget::Collector => Need::Servers,
            AbsenceTarget::Family(f) => Need::LastSeen {
                family: f,
                since: now - ABSENCE_LOOKBACK,
                servers: ids,
            },
        },
        Condition::Sql(s) => Need::Sql {
            query: s.query.clone(),
            timeout: s.timeout,
        },
        Condition::Certificate { .. } => Need::Servers,
    }
}

/// Whether a condition reads only latest values (of its expressions and its guard).
fn latest_only(m: &MetricCondition) -> bool {
    let latest = |f: Function| matches!(f, Function::Last | Function::Age);
    latest(m.function)
        && m.baseline.is_none()
        && m.guard.as_ref().is_none_or(|g| latest(g.function))
}

fn metric_filters(m: &MetricCondition) -> Vec<LabelFilter> {
    m.filter
        .iter()
        .filter_map(|f| equal_filter(m.family, f))
        .collect()
}

/// An `=` matcher pushed down to the store; the others are applied here.
fn equal_filter(family: &FamilySpec, m: &super::matcher::Matcher) -> Option<LabelFilter> {
    let text = m.to_string();
    let (label, value) = text.split_once('=')?;
    if label.ends_with('!') || value.starts_with('~') {
        return None;
    }
    let column = family.labels().find(|c| c.name == label)?.name;
    Some(LabelFilter {
        column,
        values: vec![value.to_owned()],
        prefix: false,
    })
}

fn log_filters(l: &LogCondition) -> Vec<LabelFilter> {
    let mut out = Vec::new();
    let mut add = |column: &'static str, values: &[String], prefix: bool| {
        if !values.is_empty() {
            out.push(LabelFilter {
                column,
                values: values.to_vec(),
                prefix,
            });
        }
    };
    add("category", &l.categories, false);
    add("kind", &l.kinds, false);
    add("severity", &l.severities, false);
    add("sqlstate", &l.sqlstate_classes, true);
    out
}

/// The alerts `rule` raises from `data` at `now`.
///
/// # Errors
/// When the data does not fit the rule (an SQL answer without a `value`).
pub fn evaluate(
    rule: &Rule,
    servers: &[&ServerInfo],
    data: &Data,
    now: OffsetDateTime,
) -> Result<Vec<Observation>, String> {
    let by_id: BTreeMap<i64, &ServerInfo> = servers.iter().map(|s| (s.id, *s)).collect();
    let raw: Raw = match (&rule.condition, data) {
        (Condition::Metric(m), Data::Rows(rows)) => metric(m, rows, now),
        (Condition::Metric(m), Data::Folds { recent, baseline }) => {
            metric_folds(m, recent, baseline, now)
        }
        (Condition::Log(l), Data::Rows(rows)) => log(l, rows),
        (Condition::Absence(a), Data::LastSeen(last)) => absence_of_family(a, servers, last, now),
        (Condition::Absence(a), Data::Servers) => absence_of_collector(a, servers, now),
        (Condition::Sql(_), Data::Sql(rows)) => sql(rows),
        (Condition::Certificate { within }, Data::Servers) => certificates(*within, servers, now),
        _ => return Err("the data read does not fit the rule's condition".into()),
    };
    let thresholds = match &rule.condition {
        Condition::Metric(m) => Some(&m.thresholds),
        Condition::Log(l) => Some(&l.thresholds),
        Condition::Sql(s) => Some(&s.thresholds),
        Condition::Absence(_) | Condition::Certificate { .. } => None,
    };
    let mut out = Vec::new();
    for (server_id, mut labels, value) in raw {
        let (severity, threshold) = match thresholds {
            Some(t) => match t.judge(value, rule.spec.severity) {
                Some(judged) => judged,
                None => continue,
            },
            None => (rule.spec.severity, 0.0),
        };
        if let Some(server) = server_id.and_then(|id| by_id.get(&id)) {
            labels.extend(server.labels());
        } else if server_id.is_some() {
            // A server outside the scope (or unknown): not this rule's business.
            continue;
        }
        for (k, v) in &rule.spec.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if !all_match(&rule.spec.scope, &labels) {
            continue;
        }
        out.push(Observation {
            server_id,
            labels,
            value,
            severity,
            threshold,
        });
    }
    Ok(out)
}

type Labels = BTreeMap<String, String>;
type Raw = Vec<(Option<i64>, Labels, f64)>;

/// Rows grouped into series (server + every label), each in time order.
fn series(rows: &[Row]) -> BTreeMap<(i64, Vec<Option<String>>), Vec<&Row>> {
    let mut out: BTreeMap<(i64, Vec<Option<String>>), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        out.entry((r.server_id, r.labels.clone()))
            .or_default()
            .push(r);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|r| r.time);
    }
    out
}

fn label_map(family: &FamilySpec, values: &[Option<String>]) -> BTreeMap<String, String> {
    family
        .labels()
        .zip(values)
        .filter_map(|(c, v)| v.as_ref().map(|v| (c.name.to_owned(), v.clone())))
        .collect()
}

/// Which readings of a series: all of them, the window's, or the baseline's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Segment {
    All,
    Recent,
    Past,
}

/// Which expression of a rule: its numerator, denominator or guard.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expr {
    Numerator,
    Denominator,
    Guard,
}

fn metric(m: &MetricCondition, rows: &[Row], now: OffsetDateTime) -> Raw {
    let window_start = now - m.window.duration();
    let judged = series(rows)
        .into_iter()
        .filter_map(|((server_id, labels), rows)| {
            let labels = label_map(m.family, &labels);
            let read = |seg: Segment, expr: Expr, f: Function, at: OffsetDateTime| {
                let segment: Vec<&Row> = rows
                    .iter()
                    .copied()
                    .filter(|r| match seg {
                        Segment::All => true,
                        Segment::Recent => m.baseline.is_none() || r.time >= window_start,
                        Segment::Past => r.time < window_start,
                    })
                    .collect();
                let columns = match expr {
                    Expr::Numerator => m.numerator.clone(),
                    Expr::Denominator => m.denominator.clone(),
                    Expr::Guard => vec![m.guard.as_ref()?.column],
                };
                apply(
                    f,
                    &column_points(&segment, &columns),
                    m.counter,
                    at,
                    m.horizon,
                )
            };
            let (num, den) = judge(m, &labels, now, read)?;
            Some((server_id, labels, num, den))
        })
        .collect();
    combine(m, judged)
}

/// A metric condition over folded readings: the window's hours, and the baseline's.
fn metric_folds(
    m: &MetricCondition,
    recent: &[FoldedRow],
    baseline: &[FoldedRow],
    now: OffsetDateTime,
) -> Raw {
    type Merged = [Vec<Option<Fold>>; 2];
    let width = fold::exprs(m).len();
    let mut by_series: BTreeMap<(i64, Vec<Option<String>>), Merged> = BTreeMap::new();
    for (seg, rows) in [(0, recent), (1, baseline)] {
        for r in rows {
            let merged = by_series
                .entry((r.server_id, r.labels.clone()))
                .or_insert_with(|| [vec![None; width], vec![None; width]]);
            for (into, f) in merged[seg].iter_mut().zip(&r.folds) {
                merge(into, f.as_ref());
            }
        }
    }
    let index = |expr: Expr| match expr {
        Expr::Numerator => Some(0),
        Expr::Denominator => (!m.denominator.is_empty()).then_some(1),
        Expr::Guard => m
            .guard
            .as_ref()
            .map(|_| 1 + usize::from(!m.denominator.is_empty())),
    };
    let judged = by_series
        .into_iter()
        .filter_map(|((server_id, labels), [recent, past])| {
            let labels = label_map(m.family, &labels);
            let read = |seg: Segment, expr: Expr, f: Function, at: OffsetDateTime| {
                let i = index(expr)?;
                let fold = match seg {
                    Segment::Recent => recent[i],
                    Segment::Past => past[i],
                    Segment::All => {
                        let mut all = recent[i];
                        merge(&mut all, past[i].as_ref());
                        all
                    }
                };
                fold?.value(f, at)
            };
            let (num, den) = judge(m, &labels, now, read)?;
            Some((server_id, labels, num, den))
        })
        .collect();
    combine(m, judged)
}

fn merge(into: &mut Option<Fold>, other: Option<&Fold>) {
    match (into.as_mut(), other) {
        (Some(a), Some(b)) => a.merge(b),
        (None, Some(b)) => *into = Some(*b),
        (_, None) => {}
    }
}

/// A series' numerator and denominator (1 without one), when its labels match and its
/// guard holds; with a baseline, the window's value over the baseline's, as the numerator.
/// `read` answers a function of an expression over a segment of the series.
fn judge(
    m: &MetricCondition,
    labels: &Labels,
    now: OffsetDateTime,
    read: impl Fn(Segment, Expr, Function, OffsetDateTime) -> Option<f64>,
) -> Option<(f64, f64)> {
    if !all_match(&m.filter, labels) {
        return None;
    }
    if let Some(g) = &m.guard {
        let v = read(Segment::All, Expr::Guard, g.function, now)?;
        if !g.op.holds(v, g.value) {
            return None;
        }
    }
    let window_start = now - m.window.duration();
    let both = |seg: Segment, at: OffsetDateTime| -> Option<(f64, f64)> {
        let num = read(seg, Expr::Numerator, m.function, at)?;
        if m.denominator.is_empty() {
            return Some((num, 1.0));
        }
        Some((num, read(seg, Expr::Denominator, m.function, at)?))
    };
    let (num, den) = both(Segment::Recent, now)?;
    if m.baseline.is_none() {
        return Some((num, den));
    }
    if m.min_denominator.is_some_and(|min| den < min) {
        return None;
    }
    let (bnum, bden) = both(Segment::Past, window_start)?;
    let current = if m.denominator.is_empty() {
        num
    } else {
        num / den
    };
    let before = if m.denominator.is_empty() {
        bnum
    } else {
        bnum / bden
    };
    (before.is_finite() && before != 0.0 && current.is_finite()).then(|| (current / before, 1.0))
}

/// The judged series as alerts: ratios kept where their denominator is big enough, then
/// aggregated by the rule's labels.
fn combine(m: &MetricCondition, judged: Vec<(i64, Labels, f64, f64)>) -> Raw {
    let ratio = !m.denominator.is_empty() && m.baseline.is_none();
    let keep = |(num, den): (f64, f64)| -> Option<f64> {
        if !ratio {
            return Some(num);
        }
        if m.min_denominator.is_some_and(|min| den < min) || den == 0.0 {
            return None;
        }
        Some(num / den)
    };
    let Some(agg) = m.aggregate else {
        return judged
            .into_iter()
            .filter_map(|(s, l, n, d)| keep((n, d)).map(|v| (Some(s), l, v)))
            .collect();
    };
    let mut groups: BTreeMap<(i64, Labels), Vec<(f64, f64)>> = BTreeMap::new();
    for (s, l, n, d) in judged {
        let key: BTreeMap<String, String> =
            l.into_iter().filter(|(k, _)| m.by.contains(k)).collect();
        groups.entry((s, key)).or_default().push((n, d));
    }
    groups
        .into_iter()
        .filter_map(|((s, l), values)| {
            let v = if agg == Aggregate::Sum && ratio {
                let n: f64 = values.iter().map(|v| v.0).sum();
                let d: f64 = values.iter().map(|v| v.1).sum();
                keep((n, d))?
            } else {
                let each: Vec<f64> = values.into_iter().filter_map(keep).collect();
                aggregate(agg, &each)?
            };
            Some((Some(s), l, v))
        })
        .collect()
}

fn aggregate(agg: Aggregate, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match agg {
        Aggregate::Max => values.iter().copied().fold(f64::MIN, f64::max),
        Aggregate::Min => values.iter().copied().fold(f64::MAX, f64::min),
        Aggregate::Sum => values.iter().sum(),
        Aggregate::Avg => values.iter().sum::<f64>() / values.len() as f64,
    })
}

/// The sum of `columns` per row, for rows where each has a value.
fn column_points(rows: &[&Row], columns: &[usize]) -> Vec<(OffsetDateTime, f64)> {
    rows.iter()
        .filter_map(|r| {
            let mut sum = 0.0;
            for &c in columns {
                sum += (*r.values.get(c)?)?;
            }
            Some((r.time, sum))
        })
        .collect()
}

/// One value from a series' readings (in time order).
fn apply(
    f: Function,
    points: &[(OffsetDateTime, f64)],
    counter: bool,
    now: OffsetDateTime,
    horizon: Span,
) -> Option<f64> {
    let (first, last) = (points.first()?, points.last()?);
    let values = || points.iter().map(|p| p.1);
    match f {
        Function::Last => Some(last.1),
        Function::Avg => Some(values().sum::<f64>() / points.len() as f64),
        Function::Min => values().reduce(f64::min),
        Function::Max => values().reduce(f64::max),
        Function::Sum => Some(values().sum()),
        Function::Age => Some((now.unix_timestamp_nanos() as f64 / 1e9) - last.1),
        Function::Delta | Function::Rate => {
            if points.len() < 2 {
                return None;
            }
            let increase = if counter {
                points
                    .windows(2)
                    .map(|w| diff_since(w[0].1 as i64, w[1].1 as i64).amount() as f64)
                    .sum()
            } else {
                last.1 - first.1
            };
            if f == Function::Delta {
                return Some(increase);
            }
            let secs = (last.0 - first.0).as_seconds_f64();
            (secs > 0.0).then(|| increase / secs)
        }
        Function::Predict => predict(points, now + horizon.duration()),
    }
}

/// Least squares over the points, read at `at`.
fn predict(points: &[(OffsetDateTime, f64)], at: OffsetDateTime) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let t0 = points[0].0;
    let xs: Vec<f64> = points.iter().map(|p| (p.0 - t0).as_seconds_f64()).collect();
    let n = points.len() as f64;
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let mut sxy = 0.0;
    let mut sxx = 0.0;
    for (x, p) in xs.iter().zip(points) {
        sxy += (x - mean_x) * (p.1 - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let x_at = (at - t0).as_seconds_f64();
    Some(mean_y + slope * (x_at - mean_x))
}

fn log(l: &LogCondition, rows: &[Row]) -> Raw {
    let family = catalog::family("pg_log_event").expect("catalog");
    let filters = log_filters(l);
    let label_names: Vec<&str> = family.labels().map(|c| c.name).collect();
    let mut counts: BTreeMap<(i64, Labels), f64> = BTreeMap::new();
    for r in rows {
        let value_of = |name: &str| -> Option<&str> {
            let i = label_names.iter().position(|n| *n == name)?;
            r.labels.get(i)?.as_deref()
        };
        if !filters.iter().all(|f| f.matches(value_of(f.column))) {
            continue;
        }
        let labels = label_map(family, &r.labels);
        if !all_match(&l.filter, &labels) {
            continue;
        }
        let key: BTreeMap<String, String> = labels
            .into_iter()
            .filter(|(k, _)| l.by.contains(k))
            .collect();
        *counts.entry((r.server_id, key)).or_insert(0.0) += 1.0;
    }
    counts
        .into_iter()
        .map(|((s, labels), n)| (Some(s), labels, n))
        .collect()
}

fn absence_of_family(
    a: &AbsenceCondition,
    servers: &[&ServerInfo],
    last: &BTreeMap<i64, OffsetDateTime>,
    now: OffsetDateTime,
) -> Raw {
    let AbsenceTarget::Family(family) = a.target else {
        return Vec::new();
    };
    servers
        .iter()
        .filter_map(|s| {
            let seen = *last.get(&s.id)?;
            let interval = family_interval(family, &s.intervals, a.interval)?;
            let silent = now - seen;
            // When the agent itself is silent, only its own alert fires.
            let alive = s.collector_alive(now, a.intervals);
            (alive && silent > interval.duration() * a.intervals).then(|| {
                let labels = BTreeMap::from([("family".to_owned(), family.name.to_owned())]);
                (Some(s.id), labels, silent.as_seconds_f64())
            })
        })
        .collect()
}

fn absence_of_collector(a: &AbsenceCondition, servers: &[&ServerInfo], now: OffsetDateTime) -> Raw {
    let mut seen = std::collections::BTreeSet::new();
    servers
        .iter()
        .filter(|s| seen.insert(s.collector.clone()))
        .filter_map(|s| {
            let last = s.collector_last_seen?;
            let silent = now - last;
            (silent > push_interval(&s.intervals).duration() * a.intervals).then(|| {
                let labels = BTreeMap::from([("collector".to_owned(), s.collector.clone())]);
                (None, labels, silent.as_seconds_f64())
            })
        })
        .collect()
}

fn certificates(within: Span, servers: &[&ServerInfo], now: OffsetDateTime) -> Raw {
    let mut seen = std::collections::BTreeSet::new();
    servers
        .iter()
        .filter(|s| seen.insert(s.collector.clone()))
        .filter_map(|s| {
            let left = s.certificate_not_after? - now;
            (left <= within.duration()).then(|| {
                let labels = BTreeMap::from([
                    ("collector".to_owned(), s.collector.clone()),
                    (
                        "not_after".to_owned(),
                        s.certificate_not_after
                            .and_then(|t| {
                                t.format(&time::format_description::well_known::Rfc3339)
                                    .ok()
                            })
                            .unwrap_or_default(),
                    ),
                ]);
                (None, labels, left.as_seconds_f64())
            })
        })
        .collect()
}

fn sql(rows: &[SqlRow]) -> Raw {
    rows.iter()
        .filter_map(|r| Some((r.server_id, r.labels.clone(), r.value?)))
        .collect()
}
