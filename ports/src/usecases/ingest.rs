use pganalytics_domain::batch::{
    self, BatchError, BatchLimits, Skipped, ValidatedBatch, ValidationContext,
};
use pganalytics_domain::collector::Collector;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::StoreError;
use crate::env::Clock;
use crate::store::{CollectorStore, IngestOutcome, MetricStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    /// Stored now.
    Ok,
    /// Stored before under the same batch id; nothing was written this time.
    Duplicate,
}

/// The acknowledgement an agent gets. Field names follow the original design.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestReport {
    pub status: IngestStatus,
    pub batch_id: uuid::Uuid,
    /// Rows stored for this batch (on a duplicate: rows stored the first time).
    pub metrics_inserted: u64,
    pub families: BTreeMap<String, u64>,
    pub skipped: Skipped,
    pub next_config_version: i64,
    pub next_check_in_seconds: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] BatchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates a batch from an authenticated collector and stores it exactly once.
pub struct IngestBatch {
    pub metrics: Arc<dyn MetricStore>,
    pub collectors: Arc<dyn CollectorStore>,
    pub clock: Arc<dyn Clock>,
    pub limits: BatchLimits,
}

impl IngestBatch {
    pub async fn execute(
        &self,
        collector: &Collector,
        body: &[u8],
    ) -> Result<IngestReport, IngestError> {
        let validated = self.validate(collector, body)?;
        self.store(collector, validated).await
    }

    /// Parses and validates a body within the limits: CPU only, bounded by the limits, so
    /// a shell may run it off its async workers.
    pub fn validate(
        &self,
        collector: &Collector,
        body: &[u8],
    ) -> Result<ValidatedBatch, BatchError> {
        let ctx = ValidationContext {
            collector_id: collector.id,
            now: self.clock.now(),
            limits: self.limits,
        };
        batch::parse_and_validate(body, &ctx)
    }

    /// Stores a validated batch exactly once and checks the collector in.
    pub async fn store(
        &self,
        collector: &Collector,
        validated: ValidatedBatch,
    ) -> Result<IngestReport, IngestError> {
        let now = self.clock.now();
        let (status, counts) = match self.metrics.ingest(&validated, now).await? {
            IngestOutcome::Inserted(c) => (IngestStatus::Ok, c),
            IngestOutcome::Replayed(c) => (IngestStatus::Duplicate, c),
        };
        let config = self
            .collectors
            .check_in(collector.id, now, Some(&validated.agent_version))
            .await?;
        Ok(IngestReport {
            status,
            batch_id: validated.batch_id,
            metrics_inserted: counts.total(),
            families: counts.families,
            skipped: validated.skipped,
            next_config_version: config.version,
            next_check_in_seconds: config.next_check_in_seconds(),
        })
    }
}

crate::usecases::auth::opaque_debug!(IngestBatch);
