//! Store traits. Each method documents what it MUST do; the [`crate::contract`] suite
//! checks every adapter against these clauses.
//!
//! Every method that changes metadata takes the [`AuditEntry`] describing the change and
//! MUST write it in the same transaction as the change: both or neither.

use async_trait::async_trait;
use pganalytics_domain::alerts::eval::{Row, RowsNeed, SqlRow};
use pganalytics_domain::alerts::fold::{FoldExpr, FoldedRow};
use pganalytics_domain::audit::AuditEntry;
use pganalytics_domain::batch::ValidatedBatch;
use pganalytics_domain::catalog::{ColumnSpec, FamilySpec};
use pganalytics_domain::collector::{CertificateInfo, Collector, CollectorId, MonitoredServer};
use pganalytics_domain::config::{CollectorConfig, Intervals};
use pganalytics_domain::credentials::{
    ApiToken, CredentialError, Fingerprint, RegistrationToken, TokenHash,
};
use pganalytics_domain::rates::Point;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

mod alerts;
mod people;
mod tiers;
pub use alerts::*;
pub use people::*;
pub use tiers::*;

/// Why an enrolment was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the registration token is not known")]
    UnknownToken,
    #[error(transparent)]
    TokenRejected(CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RegistrationTokenStore: Send + Sync {
    /// # Errors
    /// MUST return `Conflict` when a token with the same id or hash exists.
    async fn create_registration_token(
        &self,
        token: &RegistrationToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The token with this hash, whatever its state.
    ///
    /// # Errors
    /// MUST return `NotFound` when no token has this hash.
    async fn find_registration_token(
        &self,
        hash: &TokenHash,
    ) -> Result<RegistrationToken, StoreError>;
}

/// A collector seen at `at`, running `agent_version` when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub id: CollectorId,
    pub at: OffsetDateTime,
    pub agent_version: Option<String>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CollectorStore: Send + Sync {
    /// Consumes one use of the registration token and inserts the collector, atomically:
    /// either both happen or neither does.
    ///
    /// # Errors
    /// MUST return `UnknownToken` when no token has this hash, `TokenRejected(Expired)` when
    /// it expired at `now`, `TokenRejected(UsedUp)` when no use is left (also when concurrent
    /// enrolments race for the last use: exactly one wins), and `Store(Conflict)` when an
    /// active collector already has this name or id.
    async fn enroll(
        &self,
        token: &TokenHash,
        collector: &Collector,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), EnrollError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn get_collector(&self, id: CollectorId) -> Result<Collector, StoreError>;

    /// Every collector, oldest registration first.
    async fn list_collectors(&self) -> Result<Vec<Collector>, StoreError>;

    /// Marks the collector revoked; revoking twice is not an error.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn revoke_collector(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError>;

    /// Replaces the collector's certificate with `new` (a renewal), if its current one is
    /// still `current`: a compare-and-swap, so two renewals racing cannot both win.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id and `Conflict` when the current certificate
    /// is no longer `current` or the collector is revoked; nothing changes then.
    async fn replace_certificate(
        &self,
        id: CollectorId,
        current: &Fingerprint,
        new: CertificateInfo,
        audit: &AuditEntry,
    ) -> Result<Collector, StoreError>;

    /// Records that the collector was seen at `now` (never moves `last_seen` backwards),
    /// running `agent_version` when given, and returns its configuration, as
    /// [`collector_config`](Self::collector_config) would: what every push does, in one step.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn check_in<'a>(
        &self,
        id: CollectorId,
        now: OffsetDateTime,
        agent_version: Option<&'a str>,
    ) -> Result<CollectorConfig, StoreError>;

    /// [`check_in`](Self::check_in) for many collectors in one step (what the server does
    /// with the check-ins it gathered in memory): the configuration of each that exists,
    /// by id; unknown ids are left out.
    async fn check_in_many(
        &self,
        seen: &[CheckIn],
    ) -> Result<BTreeMap<CollectorId, CollectorConfig>, StoreError>;

    /// Every collector's configuration (the stored one, or the default), by id.
    async fn list_collector_configs(
        &self,
    ) -> Result<BTreeMap<CollectorId, CollectorConfig>, StoreError>;

    /// The collector's configuration: the stored one, or the default (version 1).
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn collector_config(&self, id: CollectorId) -> Result<CollectorConfig, StoreError>;

    /// Replaces the collector's intervals and enabled families, one version above the
    /// current one (atomically, also under concurrent updates); returns the new configuration.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn set_collector_config(
        &self,
        id: CollectorId,
        intervals: Intervals,
        enabled_families: BTreeSet<String>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<CollectorConfig, StoreError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// # Errors
    /// MUST return `Conflict` when a token with the same id or hash exists.
    async fn create_api_token(
        &self,
        token: &ApiToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// MUST return `NotFound` when no token has this hash (revoked and expired tokens are
    /// returned; the caller checks them).
    async fn find_api_token(&self, hash: &TokenHash) -> Result<ApiToken, StoreError>;

    /// Every API token, newest first (revoked and expired ones included).
    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Marks the token revoked at `now` (revoking twice keeps the first time); the next
    /// request made with it is refused.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn revoke_api_token(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<ApiToken, StoreError>;
}

/// What an ingest wrote, or had written when the batch was first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestCounts {
    /// Rows per family.
    pub families: BTreeMap<String, u64>,
}

impl IngestCounts {
    pub fn of(batch: &ValidatedBatch) -> Self {
        let mut families = BTreeMap::new();
        for b in &batch.blocks {
            *families.entry(b.family.name.to_owned()).or_insert(0) += b.len() as u64;
        }
        Self { families }
    }
    pub fn total(&self) -> u64 {
        self.families.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Inserted(IngestCounts),
    /// The batch id was ingested before; nothing was written. Carries the original counts.
    Replayed(IngestCounts),
}

impl IngestOutcome {
    /// Rows stored for the batch (for a replay: when it was first stored).
    pub fn counts(&self) -> &IngestCounts {
        match self {
            Self::Inserted(c) | Self::Replayed(c) => c,
        }
    }
}

/// A request for the raw readings of some columns of one family on one server.
#[derive(Debug, Clone)]
pub struct SeriesQuery {
    pub server_id: i64,
    pub family: &'static FamilySpec,
    pub columns: Vec<&'static ColumnSpec>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// Only rows whose label equals the value (label names of the family).
    pub filters: Vec<(&'static str, String)>,
    /// At most this many rows are read; more is an error, not a silent cut.
    pub max_rows: usize,
}

/// The readings of one column for one label set, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    pub column: &'static str,
    pub labels: BTreeMap<String, Option<String>>,
    pub points: Vec<Point>,
}

/// Everything a full store adapter implements (both the PostgreSQL and the memory one do):
/// what [`crate::Backend::from_store`] takes and the contract suite runs against.
pub trait Stores:
    CollectorStore
    + RegistrationTokenStore
    + ApiTokenStore
    + MetricStore
    + UserStore
    + SessionStore
    + AuditStore
    + SecretStore
    + ConnectionPools
    + AlertRuleStore
    + AlertStore
    + ChannelStore
    + LeaderLease
    + TierStore
    + 'static
{
}

impl<T> Stores for T where
    T: CollectorStore
        + RegistrationTokenStore
        + ApiTokenStore
        + MetricStore
        + UserStore
        + SessionStore
        + AuditStore
        + SecretStore
        + ConnectionPools
        + AlertRuleStore
        + AlertStore
        + ChannelStore
        + LeaderLease
        + TierStore
        + 'static
{
}

/// One figure of a connection pool: how many of its connections are in `state` (`size`
/// open, `available` idle, `max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    pub state: &'static str,
    pub connections: i64,
}

/// The store's connection pools, for the server's self-metrics.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait ConnectionPools: Send + Sync {
    /// Every figure of every pool; empty for a store without pools.
    fn pool_usage(&self) -> Vec<PoolUsage>;
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MaintenanceReport {
    /// Partitions created ahead of time (every tier).
    pub partitions_created: u32,
    /// Partitions dropped past their tier's retention.
    pub partitions_dropped: u32,
    /// Partitions moved to columnar storage (`columnar_after_days`, with Citus).
    pub partitions_compressed: u32,
    /// Alerts resolved longer ago than they are kept, forgotten with their history.
    pub alerts_pruned: u64,
    /// What the rollup pass did.
    pub rollup: RollupReport,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetricStore: Send + Sync {
    /// Writes every row of the batch, creates a server for each new (collector, instance),
    /// and records the batch id, all in one transaction.
    ///
    /// # Errors
    /// MUST write nothing when it fails. A batch id already recorded for the same collector
    /// MUST write nothing and return `Replayed` with the counts of the first ingest, also when
    /// the same batch is ingested concurrently; the same id from another collector is another
    /// batch. MUST return `Unavailable` when the database cannot be reached.
    async fn ingest(
        &self,
        batch: &ValidatedBatch,
        now: OffsetDateTime,
    ) -> Result<IngestOutcome, StoreError>;

    /// Stores several batches together (group commit): as few transactions as it can,
    /// one when nothing fails. The answer has one result per batch, in order, each what
    /// [`ingest`](Self::ingest) would answer for it alone; a result is only given once the
    /// transaction holding its rows has committed.
    ///
    /// # Errors
    /// Per batch, as [`ingest`](Self::ingest): a batch the database rejects fails alone,
    /// writing nothing, and never fails the others; a batch id that appears twice (same
    /// collector) is stored once, the later copies answering `Replayed`; `Unavailable` for
    /// every batch when the database cannot be reached.
    async fn ingest_group(
        &self,
        batches: &[ValidatedBatch],
        now: OffsetDateTime,
    ) -> Vec<Result<IngestOutcome, StoreError>>;

    /// Every monitored server, by id.
    async fn list_servers(&self) -> Result<Vec<MonitoredServer>, StoreError>;

    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn get_server(&self, id: i64) -> Result<MonitoredServer, StoreError>;

    /// Readings with `from <= time < to`, one series per column and label set.
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` rows match.
    async fn query_series(&self, query: &SeriesQuery) -> Result<Vec<RawSeries>, StoreError>;

    /// Creates storage of every tier ahead of `now` and drops each family's raw rows and
    /// rollups past their retention in `policy` (whole partitions: those whose every row
    /// is past it).
    async fn maintain(
        &self,
        now: OffsetDateTime,
        policy: &pganalytics_domain::rollup::RetentionPolicy,
    ) -> Result<MaintenanceReport, StoreError>;

    /// Checks that the store answers.
    ///
    /// # Errors
    /// MUST return `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The rows an alert rule needs: `from <= time <= to` on the given servers, rows matching
    /// every filter; labels in catalog order, then the needed columns (timestamps as seconds
    /// since the epoch).
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` match.
    async fn read_rows(&self, need: &RowsNeed, max_rows: usize) -> Result<Vec<Row>, StoreError>;

    /// Of the rows [`read_rows`](Self::read_rows) would answer, those at each server's latest
    /// time among them.
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` match.
    async fn read_latest(&self, need: &RowsNeed, max_rows: usize) -> Result<Vec<Row>, StoreError>;

    /// The rows [`read_rows`](Self::read_rows) would answer, folded per series over each of
    /// `exprs` (sums of columns; a row counts for an expression only when each
    /// of its columns has a value). Equal to
    /// [`fold_rows`](pganalytics_domain::alerts::fold::fold_rows) over those rows, in any
    /// order, in the count and the parts each expression's function reads (the others may
    /// be left at their neutral value).
    ///
    /// # Errors
    /// MUST return `Conflict { entity: "query result" }` when more than `max_rows` folds
    /// would be answered.
    async fn read_folds(
        &self,
        need: &RowsNeed,
        exprs: &[FoldExpr],
        max_rows: usize,
    ) -> Result<Vec<FoldedRow>, StoreError>;

    /// The latest time of `family` per server among `servers`, looking back to `since`
    /// (servers without a row since then are absent from the answer).
    async fn last_seen(
        &self,
        family: &'static FamilySpec,
        since: OffsetDateTime,
        servers: &[i64],
    ) -> Result<BTreeMap<i64, OffsetDateTime>, StoreError>;

    /// Runs an SQL rule's query as the read-only role in a read-only transaction with
    /// `timeout` as its statement timeout; at most `max_rows` rows.
    ///
    /// # Errors
    /// MUST return `Invalid` when the query fails (syntax, a write, a timeout, no numeric
    /// `value` column, too many rows) with PostgreSQL's reason, and `Invalid` from a store that
    /// cannot run SQL.
    async fn run_rule_sql(
        &self,
        query: &str,
        timeout: std::time::Duration,
        max_rows: usize,
    ) -> Result<Vec<SqlRow>, StoreError>;
}

/// Leadership of a background task among servers sharing one store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait LeaderLease: Send + Sync {
    /// Whether this process leads `task` now: takes the lead if nobody holds it and keeps it
    /// while the process lives (a PostgreSQL advisory lock held by one session), so exactly
    /// one of several servers runs the task. A store with one process always leads.
    async fn try_lead(&self, task: &str) -> Result<bool, StoreError>;
}
