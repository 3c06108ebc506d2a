//! What a collector produces: one family's rows, before the agent assigns the instance and
//! the time and puts them in a batch.
//!
//! Rows are encoded to JSON text as they are pushed: a collector reading 10,000 tables holds
//! a few megabytes of text, not 10,000 rows of `serde_json::Value`s (32 bytes a cell plus
//! every string on the heap), which is what keeps the agent's memory flat on big catalogs.

use serde_json::Value;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::batch::{EncodedBlock, WireBlock};

#[derive(Debug, Clone, PartialEq)]
pub struct CollectedRows {
    pub family: &'static str,
    pub columns: Vec<&'static str>,
    /// `[row],[row],…` without the enclosing brackets.
    json: String,
    len: usize,
}

impl CollectedRows {
    pub fn new(family: &'static str, columns: &[&'static str]) -> Self {
        Self {
            family,
            columns: columns.to_vec(),
            json: String::new(),
            len: 0,
        }
    }

    /// Adds a row; it must have one value per column.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "{}: row width", self.family);
        if self.len > 0 {
            self.json.push(',');
        }
        // Serialising a `Value` into a `String` cannot fail.
        self.json
            .push_str(&serde_json::to_string(&row).expect("JSON values always serialise"));
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows decoded again (for tests and for `check`; the agent sends the text).
    pub fn rows(&self) -> Vec<Vec<Value>> {
        serde_json::from_str(&format!("[{}]", self.json)).expect("rows were encoded by push")
    }

    /// The block for the batch, its rows as they were encoded.
    pub fn into_block(self, instance: &str, collected_at: OffsetDateTime) -> EncodedBlock {
        let rows =
            RawValue::from_string(format!("[{}]", self.json)).expect("rows were encoded by push");
        EncodedBlock {
            family: self.family.to_owned(),
            instance: instance.to_owned(),
            collected_at: Some(collected_at),
            columns: self.columns.into_iter().map(str::to_owned).collect(),
            rows,
            row_count: self.len,
        }
    }

    /// The same block with decoded rows (what the server parses: for validation in tests).
    pub fn to_wire_block(&self, instance: &str, collected_at: OffsetDateTime) -> WireBlock {
        WireBlock {
            family: self.family.to_owned(),
            instance: instance.to_owned(),
            collected_at: Some(collected_at),
            columns: self.columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: self.rows(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pushed_rows_come_back_and_encode_as_the_wire_block_would() {
        let mut r = CollectedRows::new("sys_load", &["load1", "load5"]);
        assert!(r.is_empty());
        r.push(vec![json!(0.5), json!(null)]);
        r.push(vec![json!(1), json!(2.25)]);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.rows(),
            vec![vec![json!(0.5), json!(null)], vec![json!(1), json!(2.25)]]
        );
        let at = time::macros::datetime!(2026-11-21 07:00 UTC);
        let wire = r.to_wire_block("main", at);
        let encoded = r.into_block("main", at);
        assert_eq!(
            serde_json::to_string(&encoded).unwrap(),
            serde_json::to_string(&wire).unwrap()
        );
        assert_eq!(encoded.row_count, 2);
    }
}
