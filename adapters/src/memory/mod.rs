//! Every store in memory, obeying the same contracts as PostgreSQL: the test harness, and
//! the store for tools that embed the domain without a database.

use async_trait::async_trait;
use pganalytics_domain::audit::{AuditEntry, StoredAuditEntry};
use pganalytics_domain::batch::{ColumnValues, ValidatedBatch};
use pganalytics_domain::catalog::ColumnKind;
use pganalytics_domain::collector::{
    CertificateInfo, Collector, CollectorId, CollectorStatus, InstanceName, MonitoredServer,
};
use pganalytics_domain::config::{CollectorConfig, Intervals};
use pganalytics_domain::credentials::{ApiToken, Fingerprint, RegistrationToken, TokenHash};
use pganalytics_domain::rates::Point;
use pganalytics_domain::users::{RefreshRecord, Session, User};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    CheckIn, CollectorStore, ConnectionPools, EnrollError, IngestCounts, IngestOutcome,
    MaintenanceReport, MetricStore, PoolUsage, RawSeries, RegistrationTokenStore, SeriesQuery,
};
use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;
use uuid::Uuid;

mod alerts;
mod people;
pub mod sandbox;
mod tiers;

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    registration_tokens: Vec<RegistrationToken>,
    collectors: Vec<Collector>,
    configs: HashMap<CollectorId, CollectorConfig>,
    api_tokens: Vec<ApiToken>,
    servers: Vec<MonitoredServer>,
    /// Ingested batches by (collector, batch id).
    batches: HashMap<(CollectorId, Uuid), IngestCounts>,
    rows: Vec<Row>,
    users: Vec<User>,
    sessions: Vec<Session>,
    /// Refresh tokens and when each was used.
    refresh: Vec<(RefreshRecord, Option<OffsetDateTime>)>,
    audit: Vec<StoredAuditEntry>,
    secrets: BTreeMap<String, String>,
    alerting: alerts::Alerting,
    tiers: tiers::Tiers,
}

impl State {
    /// Stores one batch exactly once (the caller holds the lock).
    fn ingest(&mut self, batch: &ValidatedBatch, now: OffsetDateTime) -> IngestOutcome {
        let key = (batch.collector_id, batch.batch_id);
        if let Some(counts) = self.batches.get(&key) {
            return IngestOutcome::Replayed(counts.clone());
        }
        for block in &batch.blocks {
            let server_id = self.server_for(batch.collector_id, &block.instance, now);
            for (r, time) in block.time.iter().enumerate() {
                self.tiers.next_id += 1;
                let mut row = Row {
                    server_id,
                    family: block.family.name,
                    time: *time,
                    labels: BTreeMap::new(),
                    values: HashMap::new(),
                    texts: HashMap::new(),
                    times: HashMap::new(),
                    id: self.tiers.next_id,
                };
                let hour = pganalytics_domain::rollup::Tier::Hourly.bucket_start(*time);
                if hour < pganalytics_domain::rollup::Tier::Hourly.bucket_start(now) {
                    self.tiers.late.insert((server_id, block.family.name, hour));
                }
                for (spec, values) in block.family.columns.iter().zip(&block.columns) {
                    match (spec.kind, values) {
                        (ColumnKind::Label, ColumnValues::Text(v)) => {
                            row.labels
                                .insert(spec.name.to_owned(), v.get(r).map(str::to_owned));
                        }
                        (_, ColumnValues::Text(v)) => {
                            if let Some(t) = v.get(r) {
                                row.texts.insert(spec.name, t.to_owned());
                            }
                        }
                        (_, ColumnValues::Int(v)) => {
                            if let Some(x) = v[r] {
                                row.values.insert(spec.name, x as f64);
                            }
                        }
                        (_, ColumnValues::Float(v)) => {
                            if let Some(x) = v[r] {
                                row.values.insert(spec.name, x);
                            }
                        }
                        // Alert rules read timestamps as seconds since the epoch.
                        (_, ColumnValues::Time(v)) => {
                            if let Some(t) = v[r] {
                                row.values
                                    .insert(spec.name, t.unix_timestamp_nanos() as f64 / 1e9);
                                row.times.insert(spec.name, t);
                            }
                        }
                    }
                }
                self.rows.push(row);
            }
        }
        let counts = IngestCounts::of(batch);
        self.batches.insert(key, counts.clone());
        IngestOutcome::Inserted(counts)
    }

    /// Appends an audit entry; called only once the change it describes has been applied.
    fn audit(&mut self, entry: &AuditEntry) {
        let id = self.audit.last().map_or(1, |e| e.id + 1);
        self.audit.push(StoredAuditEntry {
            id,
            entry: entry.clone(),
        });
    }
}

/// One stored row: its labels, numeric values (timestamps as seconds since the epoch, as
/// alert rules read them), texts and timestamps.
#[derive(Debug)]
struct Row {
    server_id: i64,
    family: &'static str,
    time: OffsetDateTime,
    labels: BTreeMap<String, Option<String>>,
    values: HashMap<&'static str, f64>,
    texts: HashMap<&'static str, String>,
    times: HashMap<&'static str, OffsetDateTime>,
    /// The order of arrival (`pg_log_event.event_id`).
    id: i64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows stored in `family`: for a test to see what was written.
    pub fn rows_of(&self, family: &str) -> usize {
        self.lock()
            .rows
            .iter()
            .filter(|r| r.family == family)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, never a half-applied
        // invariant (every mutation below is a single push/assign), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// No pool: every call is served in place.
impl ConnectionPools for MemoryStore {
    fn pool_usage(&self) -> Vec<PoolUsage> {
        Vec::new()
    }
}

fn not_found(entity: &'static str) -> StoreError {
    StoreError::NotFound { entity }
}

fn collector_mut(s: &mut State, id: CollectorId) -> Result<&mut Collector, StoreError> {
    s.collectors
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or(not_found("collector"))
}

#[async_trait]
impl RegistrationTokenStore for MemoryStore {
    async fn create_registration_token(
        &self,
        token: &RegistrationToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.registration_tokens
            .iter()
            .any(|t| t.id == token.id || t.hash == token.hash)
        {
            return Err(StoreError::Conflict {
                entity: "registration token",
            });
        }
        s.registration_tokens.push(token.clone());
        s.audit(audit);
        Ok(())
    }

    async fn find_registration_token(
        &self,
        hash: &TokenHash,
    ) -> Result<RegistrationToken, StoreError> {
        self.lock()
            .registration_tokens
            .iter()
            .find(|t| &t.hash == hash)
            .cloned()
            .ok_or(not_found("registration token"))
    }
}

#[async_trait]
impl CollectorStore for MemoryStore {
    async fn enroll(
        &self,
        token: &TokenHash,
        collector: &Collector,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), EnrollError> {
        let mut s = self.lock();
        let conflict = s
            .collectors
            .iter()
            .any(|c| c.id == collector.id || (c.is_active() && c.name == collector.name));
        let t = s
            .registration_tokens
            .iter_mut()
            .find(|t| &t.hash == token)
            .ok_or(EnrollError::UnknownToken)?;
        t.check_usable(now).map_err(EnrollError::TokenRejected)?;
        if conflict {
            return Err(StoreError::Conflict {
                entity: "collector",
            }
            .into());
        }
        t.uses_left -= 1;
        s.collectors.push(collector.clone());
        s.audit(audit);
        Ok(())
    }

    async fn get_collector(&self, id: CollectorId) -> Result<Collector, StoreError> {
        self.lock()
            .collectors
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or(not_found("collector"))
    }

    async fn list_collectors(&self) -> Result<Vec<Collector>, StoreError> {
        Ok(self.lock().collectors.clone())
    }

    async fn revoke_collector(
        &self,
        id: CollectorId,
        _now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError> {
        let mut s = self.lock();
        let c = collector_mut(&mut s, id)?;
        c.status = CollectorStatus::Revoked;
        let c = c.clone();
        s.audit(audit);
        Ok(c)
    }

    async fn replace_certificate(
        &self,
        id: CollectorId,
        current: &Fingerprint,
        new: CertificateInfo,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError> {
        let mut s = self.lock();
        let c = collector_mut(&mut s, id)?;
        if &c.certificate.fingerprint != current || !c.is_active() {
            return Err(StoreError::Conflict {
                entity: "certificate",
            });
        }
        c.certificate = new;
        let c = c.clone();
        s.audit(audit);
        Ok(c)
    }

    async fn check_in<'a>(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        agent_version: Option<&'a str>,
    ) -> Result<CollectorConfig, StoreError> {
        let mut s = self.lock();
        let c = collector_mut(&mut s, id)?;
        c.last_seen = Some(c.last_seen.map_or(now, |seen| seen.max(now)));
        if let Some(v) = agent_version {
            c.agent_version = Some(v.to_owned());
        }
        Ok(s.configs.get(&id).cloned().unwrap_or_default())
    }

    async fn check_in_many(
        &self,
        seen: &[CheckIn],
    ) -> Result<BTreeMap<CollectorId, CollectorConfig>, StoreError> {
        let mut configs = BTreeMap::new();
        for c in seen {
            match self.check_in(c.id, c.at, c.agent_version.as_deref()).await {
                Ok(config) => {
                    configs.insert(c.id, config);
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(configs)
    }

    async fn set_collector_config(
        &self,
        id: CollectorId,
        intervals: Intervals,
        enabled_families: BTreeSet<String>,
        _now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<CollectorConfig, StoreError> {
        let mut s = self.lock();
        let c = collector_mut(&mut s, id)?;
        c.config_version += 1;
        let config = CollectorConfig {
            version: c.config_version,
            intervals,
            enabled_families,
            ..CollectorConfig::default()
        };
        s.configs.insert(id, config.clone());
        s.audit(audit);
        Ok(config)
    }

    async fn collector_config(&self, id: CollectorId) -> Result<CollectorConfig, StoreError> {
        let s = self.lock();
        if !s.collectors.iter().any(|c| c.id == id) {
            return Err(not_found("collector"));
        }
        Ok(s.configs.get(&id).cloned().unwrap_or_default())
    }

    async fn list_collector_configs(
        &self,
    ) -> Result<BTreeMap<CollectorId, CollectorConfig>, StoreError> {
        let s = self.lock();
        Ok(s.collectors
            .iter()
            .map(|c| (c.id, s.configs.get(&c.id).cloned().unwrap_or_default()))
            .collect())
    }
}

impl State {
    fn server_for(
        &mut self,
        collector: CollectorId,
        instance: &InstanceName,
        now: OffsetDateTime,
    ) -> i64 {
        if let Some(s) = self
            .servers
            .iter_mut()
            .find(|s| s.collector_id == collector && &s.instance == instance)
        {
            s.last_seen = s.last_seen.max(now);
            return s.id;
        }
        let id = self.servers.len() as i64 + 1;
        self.servers.push(MonitoredServer {
            id,
            collector_id: collector,
            instance: instance.clone(),
            first_seen: now,
            last_seen: now,
        });
        id
    }
}

#[async_trait]
impl MetricStore for MemoryStore {
    async fn ingest(
        &self,
        batch: &ValidatedBatch,
        now: OffsetDateTime,
    ) -> Result<IngestOutcome, StoreError> {
        Ok(self.lock().ingest(batch, now))
    }

    async fn ingest_group(
        &self,
        batches: &[ValidatedBatch],
        now: OffsetDateTime,
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        // One lock for the group: its batches land together, as in one transaction.
        let mut s = self.lock();
        batches.iter().map(|b| Ok(s.ingest(b, now))).collect()
    }

    async fn list_servers(&self) -> Result<Vec<MonitoredServer>, StoreError> {
        Ok(self.lock().servers.clone())
    }

    async fn get_server(&self, id: i64) -> Result<MonitoredServer, StoreError> {
        self.lock()
            .servers
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or(not_found("server"))
    }

    async fn query_series(&self, q: &SeriesQuery) -> Result<Vec<RawSeries>, StoreError> {
        let s = self.lock();
        let mut rows: Vec<&Row> = s
            .rows
            .iter()
            .filter(|r| {
                r.server_id == q.server_id
                    && r.family == q.family.name
                    && r.time >= q.from
                    && r.time < q.to
                    && q.filters.iter().all(|(label, value)| {
                        r.labels.get(*label).and_then(|v| v.as_deref()) == Some(value.as_str())
                    })
            })
            .collect();
        if rows.len() > q.max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        rows.sort_by(|a, b| (&a.labels, a.time).cmp(&(&b.labels, b.time)));
        let mut out: Vec<RawSeries> = Vec::new();
        for col in &q.columns {
            for r in &rows {
                let Some(v) = r.values.get(col.name) else {
                    continue;
                };
                let point = Point {
                    time: r.time,
                    value: *v,
                };
                match out.last_mut() {
                    Some(last) if last.column == col.name && last.labels == r.labels => {
                        last.points.push(point)
                    }
                    _ => out.push(RawSeries {
                        column: col.name,
                        labels: r.labels.clone(),
                        points: vec![point],
                    }),
                }
            }
        }
        Ok(out)
    }

    async fn maintain(
        &self,
        now: OffsetDateTime,
        policy: &pganalytics_domain::rollup::RetentionPolicy,
    ) -> Result<MaintenanceReport, StoreError> {
        Ok(self.lock().drop_expired(now, policy))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn read_latest(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::Row>, StoreError> {
        let rows = self.read_rows(need, usize::MAX).await?;
        let mut latest: std::collections::BTreeMap<i64, OffsetDateTime> = Default::default();
        for r in &rows {
            let t = latest.entry(r.server_id).or_insert(r.time);
            *t = (*t).max(r.time);
        }
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| latest.get(&r.server_id) == Some(&r.time))
            .collect();
        if rows.len() > max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(rows)
    }

    async fn read_folds(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        exprs: &[pganalytics_domain::alerts::fold::FoldExpr],
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::fold::FoldedRow>, StoreError> {
        let rows = self.read_rows(need, usize::MAX).await?;
        let folds = pganalytics_domain::alerts::fold::fold_rows(&rows, exprs);
        if folds.len() > max_rows {
            return Err(StoreError::Conflict {
                entity: "query result",
            });
        }
        Ok(folds)
    }

    async fn read_rows(
        &self,
        need: &pganalytics_domain::alerts::eval::RowsNeed,
        max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::Row>, StoreError> {
        let s = self.lock();
        let labels: Vec<&str> = need.family.labels().map(|c| c.name).collect();
        let mut out = Vec::new();
        for r in s.rows.iter().filter(|r| {
            r.family == need.family.name
                && r.time >= need.from
                && r.time <= need.to
                && need.servers.contains(&r.server_id)
                && need
                    .filters
                    .iter()
                    .all(|f| f.matches(r.labels.get(f.column).and_then(|v| v.as_deref())))
        }) {
            if out.len() == max_rows {
                return Err(StoreError::Conflict {
                    entity: "query result",
                });
            }
            out.push(pganalytics_domain::alerts::eval::Row {
                server_id: r.server_id,
                time: r.time,
                labels: labels
                    .iter()
                    .map(|l| r.labels.get(*l).cloned().flatten())
                    .collect(),
                values: need
                    .columns
                    .iter()
                    .map(|c| r.values.get(c.name).copied())
                    .collect(),
            });
        }
        Ok(out)
    }

    async fn last_seen(
        &self,
        family: &'static pganalytics_domain::catalog::FamilySpec,
        since: OffsetDateTime,
        servers: &[i64],
    ) -> Result<BTreeMap<i64, OffsetDateTime>, StoreError> {
        let s = self.lock();
        let mut out: BTreeMap<i64, OffsetDateTime> = BTreeMap::new();
        for r in s.rows.iter().filter(|r| {
            r.family == family.name && r.time >= since && servers.contains(&r.server_id)
        }) {
            let e = out.entry(r.server_id).or_insert(r.time);
            *e = (*e).max(r.time);
        }
        Ok(out)
    }

    async fn run_rule_sql(
        &self,
        _query: &str,
        _timeout: std::time::Duration,
        _max_rows: usize,
    ) -> Result<Vec<pganalytics_domain::alerts::eval::SqlRow>, StoreError> {
        Err(StoreError::Invalid(
            "SQL rules need the PostgreSQL store; this server keeps its data in memory".into(),
        ))
    }
}
