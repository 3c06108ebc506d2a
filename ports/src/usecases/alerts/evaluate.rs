//! The evaluation cycle: every enabled rule against the stored metrics, each alert moved on
//! by the state machine, and every notified transition recorded with its deliveries in the
//! same transaction as the state it belongs to.

use pganalytics_domain::alerts::Rule;
use pganalytics_domain::alerts::channel::{Channel, ChannelKind, DeliveryStatus};
use pganalytics_domain::alerts::eval::{self, Data, FoldsNeed, Need, ServerInfo};
use pganalytics_domain::alerts::fold::{self, FoldedRow};
use pganalytics_domain::alerts::silence::{MaintenanceWindow, Silence};
use pganalytics_domain::alerts::state::{self, AlertState, Phase, TransitionKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::OffsetDateTime;

use crate::StoreError;
use crate::env::{Clock, IdSource};
use crate::store::{
    AlertChange, AlertRuleStore, AlertStore, ChannelStore, CollectorStore, LeaderLease,
    MetricStore, QueuedDelivery, Transition,
};

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationReport {
    /// Rules evaluated.
    pub rules: u32,
    /// Rules left for a later cycle: their family is not collected again yet.
    pub not_due: u32,
    pub failed_rules: u32,
    pub transitions: u32,
    pub deliveries_queued: u32,
}

/// Evaluates every enabled rule. Bounded: each rule has `rule_timeout` and reads at most
/// `max_rows`; a rule that fails is recorded on the rule and never stops the others.
pub struct EvaluateAlerts {
    pub rules: Arc<dyn AlertRuleStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub collectors: Arc<dyn CollectorStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub leader: Arc<dyn LeaderLease>,
    pub rule_timeout: StdDuration,
    pub max_rows: usize,
    /// What the evaluator keeps between cycles: baseline hours, and when each rule last
    /// evaluated each server.
    pub memory: EvaluatorMemory,
    /// Each (rule, server) at most once per collection interval of the rule's family on
    /// that server, at a phase of its own ([`eval::due`]); off, every rule on every server
    /// every cycle (`rules test`, as promtool evaluates).
    pub paced: bool,
}

/// The folded hours of each rule's baseline, kept between cycles: a baseline hour is in
/// the past, so it is read from the store once, not once per cycle (a day's baseline of
/// 500 servers' statements is millions of readings). Rows that arrive late for an hour
/// already read are seen once the hour is read again: after a restart, or when the rule
/// or the set of servers changes.
#[derive(Default)]
pub struct EvaluatorMemory {
    rules: std::sync::Mutex<BTreeMap<String, CachedBaseline>>,
    runs: std::sync::Mutex<BTreeMap<(String, i64), OffsetDateTime>>,
}

struct CachedBaseline {
    /// What was read: the family, columns, filters, servers and expressions.
    shape: String,
    hours: BTreeMap<OffsetDateTime, Vec<FoldedRow>>,
    /// Every kept hour merged per series, and the hours it covers.
    merged: Option<((OffsetDateTime, OffsetDateTime), Vec<FoldedRow>)>,
}

impl std::fmt::Debug for EvaluatorMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluatorMemory")
            .field("baselines", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl EvaluatorMemory {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CachedBaseline>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, i64), OffsetDateTime>> {
        self.runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What every rule of a cycle shares.
struct Cycle {
    now: OffsetDateTime,
    servers: Vec<ServerInfo>,
    silences: Vec<Silence>,
    maintenance: Vec<MaintenanceWindow>,
    channels: Vec<Channel>,
}

impl EvaluateAlerts {
    /// One cycle, when this process leads evaluation (of several servers sharing a store,
    /// exactly one evaluates); `None` when another does.
    ///
    /// # Errors
    /// As [`run_once`](Self::run_once), or when leadership cannot be asked for.
    pub async fn run_if_leader(&self) -> Result<Option<EvaluationReport>, StoreError> {
        if !self.leader.try_lead("alert-evaluation").await? {
            return Ok(None);
        }
        self.run_once().await.map(Some)
    }

    /// One cycle over every enabled rule.
    ///
    /// # Errors
    /// When what every rule needs (servers, rules, channels) cannot be read.
    pub async fn run_once(&self) -> Result<EvaluationReport, StoreError> {
        let now = self.clock.now();
        let cycle = Cycle {
            now,
            servers: self.servers().await?,
            silences: self.alerts.list_silences(now).await?,
            maintenance: self.alerts.list_maintenance(now).await?,
            channels: self
                .channels
                .list_channels()
                .await?
                .into_iter()
                .map(|c| c.channel)
                .filter(|c| c.enabled)
                .collect(),
        };
        let mut report = EvaluationReport::default();
        for stored in self.rules.list_rules().await? {
            if !stored.spec.enabled {
                continue;
            }
            let name = stored.spec.name.clone();
            let rule = Rule::from_spec(stored.spec);
            // Paced, a rule evaluates each server once per collection interval of its
            // family, at a phase of the (rule, server): the work of slow families spreads
            // evenly over the cycles.
            let due = match &rule {
                Ok(rule) if self.paced => {
                    let all = eval::servers_in_scope(rule, &cycle.servers);
                    let runs = self.memory.runs();
                    let due: Vec<i64> = all
                        .iter()
                        .filter(|s| {
                            eval::due(
                                &format!("{name}/{}", s.id),
                                eval::cadence(rule, &[s]),
                                runs.get(&(name.clone(), s.id)).copied(),
                                now,
                            )
                        })
                        .map(|s| s.id)
                        .collect();
                    if due.is_empty() && !all.is_empty() {
                        report.not_due += 1;
                        continue;
                    }
                    (due.len() < all.len()).then_some(due)
                }
                _ => None,
            };
            report.rules += 1;
            let outcome = match rule {
                Ok(rule) => {
                    let work = Box::pin(self.evaluate(&rule, &cycle, due.as_deref()));
                    let limit = time::Duration::try_from(self.rule_timeout)
                        .unwrap_or(time::Duration::seconds(10));
                    let timeout = Box::pin(self.clock.sleep(limit));
                    match futures_util::future::select(work, timeout).await {
                        futures_util::future::Either::Left((r, _)) => r,
                        futures_util::future::Either::Right(_) => Err(format!(
                            "the evaluation took longer than {} s",
                            self.rule_timeout.as_secs()
                        )),
                    }
                }
                Err(errors) => Err(errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")),
            };
            if outcome.is_ok() && self.paced {
                let mut runs = self.memory.runs();
                let ids: Vec<i64> = match &due {
                    Some(ids) => ids.clone(),
                    None => cycle.servers.iter().map(|s| s.id).collect(),
                };
                for id in ids {
                    runs.insert((name.clone(), id), now);
                }
            }
            let error = match outcome {
                Ok((transitions, deliveries)) => {
                    report.transitions += transitions;
                    report.deliveries_queued += deliveries;
                    None
                }
                Err(e) => {
                    report.failed_rules += 1;
                    Some(e)
                }
            };
            self.rules.record_rule_run(&name, now, error).await?;
        }
        Ok(report)
    }

    /// The monitored servers of active collectors, with what evaluation needs of them.
    async fn servers(&self) -> Result<Vec<ServerInfo>, StoreError> {
        let collectors: BTreeMap<_, _> = self
            .collectors
            .list_collectors()
            .await?
            .into_iter()
            .filter(|c| c.is_active())
            .map(|c| (c.id, c))
            .collect();
        let configs = self.collectors.list_collector_configs().await?;
        Ok(self
            .metrics
            .list_servers()
            .await?
            .into_iter()
            .filter_map(|s| {
                let c = collectors.get(&s.collector_id)?;
                Some(ServerInfo {
                    id: s.id,
                    name: s.instance.as_str().to_owned(),
                    collector: c.name.as_str().to_owned(),
                    intervals: configs
                        .get(&s.collector_id)
                        .map(|c| c.intervals.clone())
                        .unwrap_or_default(),
                    collector_last_seen: c.last_seen,
                    certificate_not_after: Some(c.certificate.not_after),
                })
            })
            .collect())
    }

    /// Evaluates one rule and applies what changed; the transitions and deliveries queued.
    /// With `only`, on those servers alone: the alerts of the others stay as they are.
    async fn evaluate(
        &self,
        rule: &Rule,
        cycle: &Cycle,
        only: Option<&[i64]>,
    ) -> Result<(u32, u32), String> {
        let now = cycle.now;
        let in_scope = eval::servers_in_scope(rule, &cycle.servers);
        let all_ids: Vec<i64> = in_scope.iter().map(|s| s.id).collect();
        let servers: Vec<&ServerInfo> = match only {
            Some(ids) => in_scope
                .into_iter()
                .filter(|s| ids.contains(&s.id))
                .collect(),
            None => in_scope,
        };
        let data = match eval::need(rule, &servers, now) {
            Need::Rows(n) => Data::Rows(
                self.metrics
                    .read_rows(&n, self.max_rows)
                    .await
                    .map_err(|e| read_error(e, self.max_rows))?,
            ),
            Need::Latest(n) => Data::Rows(
                self.metrics
                    .read_latest(&n, self.max_rows)
                    .await
                    .map_err(|e| read_error(e, self.max_rows))?,
            ),
            Need::Folds(n) => {
                let recent = self
                    .metrics
                    .read_folds(&n.rows, &n.exprs, self.max_rows)
                    .await
                    .map_err(|e| read_error(e, self.max_rows))?;
                let baseline = match n.baseline {
                    // Read (and kept) for every server in scope, used for those evaluated.
                    Some(hours) => {
                        let mut all = n.clone();
                        all.rows.servers = all_ids.clone();
                        let mut rows = self.baseline(rule.name(), &all, hours).await?;
                        rows.retain(|r| n.rows.servers.contains(&r.server_id));
                        rows
                    }
                    None => Vec::new(),
                };
                Data::Folds { recent, baseline }
            }
            Need::LastSeen {
                family,
                since,
                servers,
            } => Data::LastSeen(
                self.metrics
                    .last_seen(family, since, &servers)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            Need::Servers => Data::Servers,
            Need::Sql { query, timeout } => Data::Sql(
                self.metrics
                    .run_rule_sql(
                        &query,
                        StdDuration::from_secs(timeout.as_seconds().unsigned_abs()),
                        self.max_rows,
                    )
                    .await
                    .map_err(|e| e.to_string())?,
            ),
        };
        let observations = eval::evaluate(rule, &servers, &data, now)?;
        let mut previous: BTreeMap<String, AlertState> = self
            .alerts
            .rule_alerts(rule.name())
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|a| (a.fingerprint.clone(), a))
            .collect();
        if let Some(ids) = only {
            previous.retain(|_, a| a.server_id.is_some_and(|id| ids.contains(&id)));
        }
        let mut changes = Vec::new();
        for o in &observations {
            let fp = state::fingerprint(rule.name(), &o.labels);
            let prev = previous.remove(&fp);
            changes.push((
                fp.clone(),
                prev.clone(),
                state::advance(prev, Some(o), rule, &fp, now),
            ));
        }
        for (fp, prev) in previous {
            changes.push((
                fp.clone(),
                Some(prev.clone()),
                state::advance(Some(prev), None, rule, &fp, now),
            ));
        }
        let last = self
            .channels
            .last_notified(
                &changes
                    .iter()
                    .filter(|(_, _, a)| a.state.as_ref().is_some_and(|s| s.phase == Phase::Firing))
                    .map(|(fp, _, _)| fp.clone())
                    .collect::<Vec<_>>(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let (mut transitions, mut queued) = (0, 0);
        let mut out = Vec::new();
        for (fp, prev, advance) in changes {
            if prev.is_none() && advance.state.is_none() {
                continue;
            }
            let Some(alert) = advance.state.clone().or(prev) else {
                continue;
            };
            let due = self.repeat_due(&alert, cycle, &last);
            let kind = advance
                .transition
                .or_else(|| (!due.is_empty()).then_some(TransitionKind::Repeated));
            let transition = kind.map(|kind| {
                transitions += 1;
                let t = Transition {
                    id: self.ids.uuid(),
                    fingerprint: fp.clone(),
                    rule: rule.name().to_owned(),
                    kind,
                    severity: alert.severity,
                    value: alert.value,
                    summary: alert.summary.clone(),
                    description: alert.description.clone(),
                    runbook: rule.spec.runbook.clone(),
                    labels: alert.labels.clone(),
                    active_since: alert.active_since,
                    at: now,
                };
                let mut deliveries = self.route(&t, &alert, cycle);
                if kind == TransitionKind::Repeated {
                    deliveries.retain(|d| due.contains(&d.channel_id));
                }
                queued += deliveries.len() as u32;
                (t, deliveries)
            });
            out.push(AlertChange {
                fingerprint: fp,
                state: advance.state,
                transition,
            });
        }
        self.alerts
            .apply_evaluation(&out)
            .await
            .map_err(|e| e.to_string())?;
        Ok((transitions, queued))
    }

    /// The channels a firing, unacknowledged alert is due to be repeated to.
    fn repeat_due(
        &self,
        alert: &AlertState,
        cycle: &Cycle,
        last: &BTreeMap<(String, uuid::Uuid), OffsetDateTime>,
    ) -> Vec<uuid::Uuid> {
        if alert.phase != Phase::Firing || alert.ack.is_some() {
            return Vec::new();
        }
        let since = alert.firing_since.unwrap_or(alert.active_since);
        cycle
            .channels
            .iter()
            .filter_map(|c| c.route.repeat_interval.map(|r| (c.id, r)))
            .filter(|(id, every)| {
                let previous = last
                    .get(&(alert.fingerprint.clone(), *id))
                    .copied()
                    .unwrap_or(since);
                cycle.now - previous >= every.duration()
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// A delivery for each channel that wants the transition: suppressed (recorded, not
    /// sent) when a silence or maintenance window covers the alert.
    fn route(&self, t: &Transition, alert: &AlertState, cycle: &Cycle) -> Vec<QueuedDelivery> {
        let labels = matching_labels(alert);
        let suppressed = cycle.silences.iter().any(|s| s.covers(&labels, cycle.now))
            || cycle
                .maintenance
                .iter()
                .any(|m| m.covers(alert.server_id, cycle.now));
        routed(&cycle.channels, t, alert, cycle.now, suppressed, || {
            self.ids.uuid()
        })
    }
}

/// The deliveries of a transition: one per channel whose route wants it.
pub(super) fn routed(
    channels: &[Channel],
    t: &Transition,
    alert: &AlertState,
    now: OffsetDateTime,
    suppressed: bool,
    mut id: impl FnMut() -> uuid::Uuid,
) -> Vec<QueuedDelivery> {
    let labels = matching_labels(alert);
    channels
        .iter()
        .filter(|c| c.route.wants(t.kind, t.severity, &labels))
        .filter(|c| {
            // Alertmanager keeps its own acknowledgement (silences); mail for an ack is noise.
            !(t.kind == TransitionKind::Acknowledged
                && matches!(c.kind, ChannelKind::Alertmanager | ChannelKind::Email))
        })
        .map(|c| QueuedDelivery {
            id: id(),
            channel_id: c.id,
            status: if suppressed {
                DeliveryStatus::Suppressed
            } else {
                DeliveryStatus::Pending
            },
            not_before: now + c.route.group_wait.duration(),
        })
        .collect()
}

/// The labels silences and routes match: the alert's, and `rule` (its rule's name).
pub(super) fn matching_labels(alert: &AlertState) -> BTreeMap<String, String> {
    let mut labels = alert.labels.clone();
    labels
        .entry("rule".to_owned())
        .or_insert_with(|| alert.rule.clone());
    labels
}

impl EvaluateAlerts {
    /// The folds of `hours` (`from..to`) for a rule's baseline: the hours not kept yet are
    /// read one by one (each bounded by `max_rows`; a cycle cut short by the timeout keeps
    /// what it read), hours before `from` are forgotten.
    async fn baseline(
        &self,
        rule: &str,
        need: &FoldsNeed,
        (from, to): (OffsetDateTime, OffsetDateTime),
    ) -> Result<Vec<FoldedRow>, String> {
        let shape = format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            need.rows.family.name,
            need.rows.columns.iter().map(|c| c.name).collect::<Vec<_>>(),
            need.rows.filters,
            need.rows.servers,
            need.exprs
        );
        let missing: Vec<OffsetDateTime> = {
            let mut cache = self.memory.lock();
            let entry = cache
                .entry(rule.to_owned())
                .or_insert_with(|| CachedBaseline {
                    shape: shape.clone(),
                    hours: BTreeMap::new(),
                    merged: None,
                });
            if entry.shape != shape {
                *entry = CachedBaseline {
                    shape: shape.clone(),
                    hours: BTreeMap::new(),
                    merged: None,
                };
            }
            entry.hours.retain(|h, _| *h >= from);
            fold::hours(from, to)
                .into_iter()
                .filter(|h| !entry.hours.contains_key(h))
                .collect()
        };
        for hour in missing {
            let mut rows = need.rows.clone();
            rows.from = hour;
            rows.to = hour + time::Duration::HOUR - time::Duration::MICROSECOND;
            let folds = self
                .metrics
                .read_folds(&rows, &need.exprs, self.max_rows)
                .await
                .map_err(|e| read_error(e, self.max_rows))?;
            let mut cache = self.memory.lock();
            if let Some(entry) = cache.get_mut(rule).filter(|e| e.shape == shape) {
                entry.hours.insert(hour, folds);
                entry.merged = None;
            }
        }
        let mut cache = self.memory.lock();
        let Some(entry) = cache.get_mut(rule) else {
            return Ok(Vec::new());
        };
        match &entry.merged {
            Some((range, rows)) if *range == (from, to) => Ok(rows.clone()),
            _ => {
                let rows = fold::merge_series(entry.hours.range(from..to).flat_map(|(_, r)| r));
                entry.merged = Some(((from, to), rows.clone()));
                Ok(rows)
            }
        }
    }
}

fn read_error(e: StoreError, max_rows: usize) -> String {
    match e {
        StoreError::Conflict { .. } => {
            format!("the rule reads more than {max_rows} rows: narrow its window, scope or `where`")
        }
        other => other.to_string(),
    }
}
