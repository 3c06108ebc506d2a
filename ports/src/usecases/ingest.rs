use pganalytics_domain::batch::{
    self, BatchError, BatchLimits, Skipped, ValidatedBatch, ValidationContext,
};
use pganalytics_domain::collector::Collector;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::StoreError;
use crate::env::Clock;
use crate::store::{IngestOutcome, MetricStore};
use crate::usecases::presence::CollectorPresence;

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

/// How concurrent pushes are stored together (group commit).
#[derive(Debug, Clone, Copy)]
pub struct GroupCommitSettings {
    /// Group transactions that may run at once (each holds one database connection).
    pub committers: usize,
    /// How long a group stays open for more pushes after its first, at most.
    pub max_wait: std::time::Duration,
    /// A group closes as soon as it holds this many rows.
    pub max_rows: usize,
    /// Pushes that may wait for a committer; more wait before they are queued.
    pub queue: usize,
}

impl Default for GroupCommitSettings {
    fn default() -> Self {
        Self {
            committers: 2,
            max_wait: std::time::Duration::from_millis(2),
            max_rows: 50_000,
            queue: 1024,
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<IngestOutcome, StoreError>>;

/// A validated batch waiting for its group's commit.
struct Pending {
    batch: ValidatedBatch,
    reply: Reply,
}

fn rows(b: &ValidatedBatch) -> usize {
    b.blocks.iter().map(|b| b.len()).sum()
}

/// A group transaction's loop: a future the shell runs (one per committer) for as long as
/// the server runs; it ends when the [`IngestBatch`] is dropped and its queue is empty.
pub type Committer = futures_util::future::BoxFuture<'static, ()>;

struct CommitLoop {
    queue: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Pending>>>,
    metrics: Arc<dyn MetricStore>,
    clock: Arc<dyn Clock>,
    settings: GroupCommitSettings,
}

impl CommitLoop {
    async fn run(self) {
        while let Some(group) = self.gather().await {
            let (batches, replies): (Vec<ValidatedBatch>, Vec<Reply>) =
                group.into_iter().map(|p| (p.batch, p.reply)).unzip();
            let results = self.metrics.ingest_group(&batches, self.clock.now()).await;
            for (reply, result) in replies.into_iter().zip(results) {
                // A push whose client went away has nobody to answer; its rows are stored.
                let _ = reply.send(result);
            }
        }
    }

    /// The next group: the first pushes waiting, then whatever arrives within `max_wait`,
    /// up to `max_rows`. Only one committer gathers at a time; the others are committing.
    async fn gather(&self) -> Option<Vec<Pending>> {
        use futures_util::future::{Either, select};
        let mut queue = self.queue.lock().await;
        let first = queue.recv().await?;
        let mut size = rows(&first.batch);
        let mut group = vec![first];
        while size < self.settings.max_rows {
            match queue.try_recv() {
                Ok(p) => {
                    size += rows(&p.batch);
                    group.push(p);
                }
                Err(_) => break,
            }
        }
        if size < self.settings.max_rows && !self.settings.max_wait.is_zero() {
            let by = time::Duration::try_from(self.settings.max_wait).unwrap_or_default();
            let deadline = self.clock.sleep(by);
            futures_util::pin_mut!(deadline);
            while size < self.settings.max_rows {
                let next = queue.recv();
                futures_util::pin_mut!(next);
                match select(next, deadline.as_mut()).await {
                    Either::Left((Some(p), _)) => {
                        size += rows(&p.batch);
                        group.push(p);
                    }
                    Either::Left((None, _)) | Either::Right(_) => break,
                }
            }
        }
        Some(group)
    }
}

/// Validates a batch from an authenticated collector and stores it exactly once: with the
/// batches pushed at the same time, in one transaction (see [`GroupCommitSettings`]); the
/// answer comes once that transaction has committed.
pub struct IngestBatch {
    pub presence: Arc<CollectorPresence>,
    pub clock: Arc<dyn Clock>,
    pub limits: BatchLimits,
    queue: tokio::sync::mpsc::Sender<Pending>,
    committers: std::sync::Mutex<Option<Vec<Committer>>>,
}

impl IngestBatch {
    /// The use case, and its committers: the shell runs them
    /// ([`take_committers`](Self::take_committers)) before any push.
    pub fn new(
        metrics: Arc<dyn MetricStore>,
        presence: Arc<CollectorPresence>,
        clock: Arc<dyn Clock>,
        limits: BatchLimits,
        settings: GroupCommitSettings,
    ) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel(settings.queue.max(1));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let committers = (0..settings.committers.max(1))
            .map(|_| {
                let run = CommitLoop {
                    queue: rx.clone(),
                    metrics: metrics.clone(),
                    clock: clock.clone(),
                    settings,
                };
                Box::pin(run.run()) as Committer
            })
            .collect();
        Self {
            presence,
            clock,
            limits,
            queue,
            committers: std::sync::Mutex::new(Some(committers)),
        }
    }

    /// Pushes queued for a committer (not those being committed).
    pub fn waiting(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// The committers' loops, once: to run on the shell's runtime until they end.
    pub fn take_committers(&self) -> Vec<Committer> {
        self.committers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default()
    }

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
        let unavailable = |why: &str| IngestError::Store(StoreError::unavailable(why.to_owned()));
        if self
            .committers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Err(unavailable("the ingest committers are not running"));
        }
        let (batch_id, skipped, agent_version) = (
            validated.batch_id,
            validated.skipped.clone(),
            validated.agent_version.clone(),
        );
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .send(Pending {
                batch: validated,
                reply,
            })
            .await
            .map_err(|_| unavailable("the server is shutting down"))?;
        let outcome = answer
            .await
            .map_err(|_| unavailable("the server is shutting down"))??;
        let (status, counts) = match outcome {
            IngestOutcome::Inserted(c) => (IngestStatus::Ok, c),
            IngestOutcome::Replayed(c) => (IngestStatus::Duplicate, c),
        };
        let config = self
            .presence
            .check_in(collector.id, self.clock.now(), Some(&agent_version))
            .await?;
        Ok(IngestReport {
            status,
            batch_id,
            metrics_inserted: counts.total(),
            families: counts.families,
            skipped,
            next_config_version: config.version,
            next_check_in_seconds: config.next_check_in_seconds(),
        })
    }
}

crate::usecases::auth::opaque_debug!(IngestBatch);
