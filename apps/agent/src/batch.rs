//! Turns a cycle's blocks into a wire batch and its compressed bytes for the spool.

use pganalytics_domain::batch::{WIRE_VERSION, WireBatch, WireBlock};
use time::OffsetDateTime;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

fn batch_id() -> uuid::Uuid {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random number generator");
    uuid::Builder::from_random_bytes(b).into_uuid()
}

pub fn wire(collector_id: uuid::Uuid, at: OffsetDateTime, metrics: Vec<WireBlock>) -> WireBatch {
    WireBatch {
        version: WIRE_VERSION,
        batch_id: batch_id(),
        collector_id,
        agent_version: AGENT_VERSION.into(),
        collected_at: at,
        metrics,
    }
}

/// zstd level 3: a fifth of the JSON's size for little CPU.
pub fn compress(batch: &WireBatch) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(batch).map_err(std::io::Error::other)?;
    zstd::bulk::compress(&json, 3)
}

pub fn now() -> OffsetDateTime {
    pganalytics_domain::truncate_to_micros(OffsetDateTime::now_utc())
}
