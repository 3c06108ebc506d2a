//! Where a cycle becomes a batch: the one place batches are assembled (the daemon's cycles
//! and `collect --once` alike) and compressed for the spool.

use pganalytics_domain::batch::{EncodedBatch, EncodedBlock, WIRE_VERSION, WireBlock};
use pganalytics_domain::logs::{EVENT_COLUMNS, LATENCY_COLUMNS, LogEvent};
use pganalytics_ports::env::IdSource;
use pganalytics_ports::spool::{Appended, Spool};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::selfmetrics::SelfMetrics;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Batches of one collector, each with a fresh id.
pub struct Outbox {
    pub collector_id: uuid::Uuid,
    pub ids: Arc<dyn IdSource>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("collector_id", &self.collector_id)
            .finish_non_exhaustive()
    }
}

/// What goes into one batch.
#[derive(Debug, Default)]
pub struct Contents<'a> {
    /// The collectors' rows, encoded as each collector returned.
    pub blocks: Vec<EncodedBlock>,
    /// Server log events, by instance.
    pub log_events: BTreeMap<String, Vec<LogEvent>>,
    /// Statement latency rows from the log (`pg_statement_latency`), by instance.
    pub latency: BTreeMap<String, Vec<Vec<serde_json::Value>>>,
    /// The agent's own figures (the `agent` family), when this batch carries them.
    pub own_figures: Option<&'a SelfMetrics>,
}

impl Outbox {
    /// The batch of `contents`, collected at `at`.
    pub fn assemble(&self, at: OffsetDateTime, contents: Contents<'_>) -> EncodedBatch {
        let mut metrics = contents.blocks;
        for (instance, events) in contents.log_events {
            metrics.push(EncodedBlock::encode(WireBlock {
                family: "pg_log_event".into(),
                instance,
                collected_at: Some(at),
                columns: EVENT_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
                rows: events.iter().map(|e| e.row(at)).collect(),
            }));
        }
        for (instance, rows) in contents.latency {
            metrics.push(EncodedBlock::encode(WireBlock {
                family: "pg_statement_latency".into(),
                instance,
                collected_at: Some(at),
                columns: LATENCY_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
                rows,
            }));
        }
        if let Some(own) = contents.own_figures {
            metrics.extend(own.blocks(at));
        }
        EncodedBatch {
            version: WIRE_VERSION,
            batch_id: self.ids.uuid(),
            collector_id: self.collector_id,
            agent_version: AGENT_VERSION.into(),
            collected_at: at,
            metrics,
        }
    }
}

/// Compresses `batch` and appends it to `spool` (durably): its spool id, and what making
/// room for it took.
pub fn spool(spool: &mut dyn Spool, batch: &EncodedBatch) -> anyhow::Result<Appended> {
    Ok(spool.append(&compress(batch)?)?)
}

/// zstd level 3: a fifth of the JSON's size for little CPU. The JSON is streamed into the
/// encoder, never held whole (a cycle on 10,000 tables is megabytes of JSON).
pub fn compress(batch: &EncodedBatch) -> std::io::Result<Vec<u8>> {
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3)?;
    let mut writer = std::io::BufWriter::new(&mut encoder);
    serde_json::to_writer(&mut writer, batch).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut writer)?;
    drop(writer);
    encoder.finish()
}
