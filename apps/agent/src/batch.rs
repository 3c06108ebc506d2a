//! Turns a cycle's blocks into a wire batch and its compressed bytes for the spool.

use pganalytics_domain::batch::{EncodedBatch, EncodedBlock, WIRE_VERSION};
use time::OffsetDateTime;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

fn batch_id() -> uuid::Uuid {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random number generator");
    uuid::Builder::from_random_bytes(b).into_uuid()
}

pub fn wire(
    collector_id: uuid::Uuid,
    at: OffsetDateTime,
    metrics: Vec<EncodedBlock>,
) -> EncodedBatch {
    EncodedBatch {
        version: WIRE_VERSION,
        batch_id: batch_id(),
        collector_id,
        agent_version: AGENT_VERSION.into(),
        collected_at: at,
        metrics,
    }
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

pub fn now() -> OffsetDateTime {
    pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc())
}
