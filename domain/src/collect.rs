//! What a collector produces: one family's rows, before the agent assigns the instance and
//! the time and puts them in a batch.

use serde_json::Value;
use time::OffsetDateTime;

use crate::batch::WireBlock;

#[derive(Debug, Clone, PartialEq)]
pub struct CollectedRows {
    pub family: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

impl CollectedRows {
    pub fn new(family: &'static str, columns: &[&'static str]) -> Self {
        Self {
            family,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one value per column.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "{}: row width", self.family);
        self.rows.push(row);
    }

    pub fn into_block(self, instance: &str, collected_at: OffsetDateTime) -> WireBlock {
        WireBlock {
            family: self.family.to_owned(),
            instance: instance.to_owned(),
            collected_at: Some(collected_at),
            columns: self.columns.into_iter().map(str::to_owned).collect(),
            rows: self.rows,
        }
    }
}
