//! The agent's side of the wire format: blocks whose rows are already JSON text.
//!
//! A cycle on 10,000 tables reads 30,000 rows; held as `serde_json::Value`s (32 bytes a
//! cell, plus every string on the heap) until the batch is written, they weighed 70 MB. Each
//! block is therefore encoded as soon as it is read and its values dropped: the batch keeps
//! only compact JSON text. Serialised, an [`EncodedBatch`] is exactly the [`WireBatch`] it
//! stands for (a test checks it).

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use super::WireBlock;

#[derive(Debug, Clone, Serialize)]
pub struct EncodedBlock {
    pub family: String,
    pub instance: String,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub collected_at: Option<OffsetDateTime>,
    pub columns: Vec<String>,
    pub rows: Box<RawValue>,
    #[serde(skip)]
    pub row_count: usize,
}

impl EncodedBlock {
    pub fn encode(block: WireBlock) -> Self {
        let rows =
            serde_json::value::to_raw_value(&block.rows).expect("JSON values always serialise");
        Self {
            row_count: block.rows.len(),
            family: block.family,
            instance: block.instance,
            collected_at: block.collected_at,
            columns: block.columns,
            rows,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EncodedBatch {
    pub version: u32,
    pub batch_id: Uuid,
    pub collector_id: Uuid,
    pub agent_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    pub metrics: Vec<EncodedBlock>,
}

impl EncodedBatch {
    pub fn rows(&self) -> usize {
        self.metrics.iter().map(|b| b.row_count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{WIRE_VERSION, WireBatch, parse};
    use serde_json::json;

    #[test]
    fn an_encoded_batch_is_the_wire_batch_it_stands_for() {
        let at = time::macros::datetime!(2026-11-21 07:00 UTC);
        let block = WireBlock {
            family: "pg_database".into(),
            instance: "main".into(),
            collected_at: Some(at),
            columns: vec!["datname".into(), "xact_commit".into(), "size_bytes".into()],
            rows: vec![
                vec![json!("app"), json!(12), json!(1.5)],
                vec![json!("p\"q"), json!(null), json!(2e20)],
            ],
        };
        let wire = WireBatch {
            version: WIRE_VERSION,
            batch_id: Uuid::nil(),
            collector_id: Uuid::nil(),
            agent_version: "t".into(),
            collected_at: at,
            metrics: vec![block.clone()],
        };
        let encoded = EncodedBatch {
            version: WIRE_VERSION,
            batch_id: Uuid::nil(),
            collector_id: Uuid::nil(),
            agent_version: "t".into(),
            collected_at: at,
            metrics: vec![EncodedBlock::encode(block)],
        };
        let bytes = serde_json::to_vec(&encoded).unwrap();
        assert_eq!(bytes, serde_json::to_vec(&wire).unwrap());
        assert_eq!(parse(&bytes).unwrap(), wire);
        assert_eq!(encoded.rows(), 2);
    }
}
