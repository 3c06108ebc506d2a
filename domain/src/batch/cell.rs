//! The batch as read straight from the request body, borrowing its strings.
//!
//! The server parses every push into this instead of a `serde_json::Value` tree: a
//! 1,000-row batch holds ~27,000 cells, and building `Value`s for them was the larger
//! part of the server's CPU per push (see `benches/batch.rs`). [`WireBatch`] stays the
//! owned, serializable form for agents and tests; it is validated through the same code
//! by borrowing it as a [`RawBatch`].

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BatchError, BatchLimits, WireBatch};

/// One value of a row. Arrays and objects are never valid cells; only their kind is kept
/// for the error message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Bool,
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Cell<'_> {
    /// How the value looked, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Bool => "a boolean".into(),
            Self::Int(n) => format!("the number {n}"),
            Self::UInt(n) => format!("the number {n}"),
            Self::Float(f) => format!("the number {f}"),
            Self::Str(_) => "a string".into(),
            Self::Array => "an array".into(),
            Self::Object => "an object".into(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Cell<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CellVisitor(std::marker::PhantomData))
    }
}

struct CellVisitor<'a>(std::marker::PhantomData<Cell<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for CellVisitor<'a> {
    type Value = Cell<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Cell<'a>, E> {
        Ok(Cell::Null)
    }
    fn visit_none<E>(self) -> Result<Cell<'a>, E> {
        Ok(Cell::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Cell<'a>, E> {
        Ok(Cell::Bool)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Cell<'a>, E> {
        Ok(Cell::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Cell<'a>, E> {
        Ok(i64::try_from(v).map_or(Cell::UInt(v), Cell::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Cell<'a>, E> {
        Ok(Cell::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cell<'a>, E> {
        Ok(Cell::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cell<'a>, E> {
        Ok(Cell::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Cell<'a>, E> {
        Ok(Cell::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cell::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Cell::Object)
    }
}

impl<'a> From<&'a Value> for Cell<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(n) => n
                .as_i64()
                .map(Self::Int)
                .or_else(|| n.as_u64().map(Self::UInt))
                .unwrap_or_else(|| Self::Float(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => Self::Str(Cow::Borrowed(s)),
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

#[derive(Debug)]
pub(crate) struct RawBatch<'a> {
    pub version: u32,
    pub batch_id: Uuid,
    pub collector_id: Uuid,
    pub agent_version: Cow<'a, str>,
    pub collected_at: OffsetDateTime,
    pub metrics: Vec<RawBlock<'a>>,
}

#[derive(Debug)]
pub(crate) struct RawBlock<'a> {
    pub family: Cow<'a, str>,
    pub instance: Cow<'a, str>,
    pub collected_at: Option<OffsetDateTime>,
    pub columns: Vec<Cow<'a, str>>,
    pub rows: Rows<'a>,
}

/// A block's rows: every cell in one vector, and each row's length (a row per allocation,
/// grown cell by cell, cost more than parsing the cells).
#[derive(Debug, Default)]
pub(crate) struct Rows<'a> {
    pub cells: Vec<Cell<'a>>,
    pub lens: Vec<usize>,
}

impl Rows<'_> {
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }
}

/// What a body may still hold while it is read: every block, column, row and cell is
/// counted as it is parsed and the parse stops at the first limit passed, so a body of
/// millions of tiny cells costs at most `max_cells` cells in memory, never its whole self.
pub(crate) struct Budget {
    limits: BatchLimits,
    blocks: usize,
    rows: usize,
    cells: usize,
    /// The limit that stopped the parse.
    pub(crate) exceeded: Option<BatchError>,
}

impl Budget {
    pub(crate) fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            blocks: 0,
            rows: 0,
            cells: 0,
            exceeded: None,
        }
    }

    /// Counts one more of `what`; an error once `count` passes `limit`.
    fn take<E: de::Error>(
        exceeded: &mut Option<BatchError>,
        count: &mut usize,
        limit: usize,
        what: &'static str,
    ) -> Result<(), E> {
        *count += 1;
        if *count > limit {
            *exceeded = Some(BatchError::LimitExceeded { what, limit });
            return Err(E::custom(format!("{what} exceeds the limit of {limit}")));
        }
        Ok(())
    }
}

/// Implements `DeserializeSeed` for a seed that is its own sequence visitor.
macro_rules! seq_seed {
    ($seed:ident, $value:ty) => {
        impl<'de, 'b> DeserializeSeed<'de> for $seed<'b> {
            type Value = $value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_seq(self)
            }
        }
    };
}

/// Parses a body into a [`RawBatch`] within `budget`.
pub(crate) fn parse_bounded<'de>(
    body: &'de [u8],
    budget: &mut Budget,
) -> Result<RawBatch<'de>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let batch = BatchSeed(budget).deserialize(&mut de)?;
    de.end()?;
    Ok(batch)
}

/// A string borrowed from the body when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Cell::deserialize(d)? {
            Cell::Str(s) => Ok(Text(s)),
            other => Err(de::Error::custom(format!(
                "expected a string, got {}",
                other.describe()
            ))),
        }
    }
}

#[derive(Deserialize)]
struct Rfc3339(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

/// Fills a field's slot, refusing a key given twice.
fn once<T, E: de::Error>(slot: &mut Option<T>, field: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(field));
    }
    Ok(())
}

fn required<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

struct BatchSeed<'b>(&'b mut Budget);

impl<'de, 'b> DeserializeSeed<'de> for BatchSeed<'b> {
    type Value = RawBatch<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'b> Visitor<'de> for BatchSeed<'b> {
    type Value = RawBatch<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric batch object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut version, mut batch_id, mut collector_id) = (None, None, None);
        let (mut agent_version, mut collected_at, mut metrics) = (None, None, None);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "version" => once(&mut version, "version", map.next_value::<u32>()?)?,
                "batch_id" => once(&mut batch_id, "batch_id", map.next_value::<Uuid>()?)?,
                "collector_id" => {
                    once(&mut collector_id, "collector_id", map.next_value::<Uuid>()?)?
                }
                "agent_version" => once(
                    &mut agent_version,
                    "agent_version",
                    map.next_value::<Text<'de>>()?.0,
                )?,
                "collected_at" => once(
                    &mut collected_at,
                    "collected_at",
                    map.next_value::<Rfc3339>()?.0,
                )?,
                "metrics" => once(
                    &mut metrics,
                    "metrics",
                    map.next_value_seed(BlocksSeed(&mut *self.0))?,
                )?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawBatch {
            version: required(version, "version")?,
            batch_id: required(batch_id, "batch_id")?,
            collector_id: required(collector_id, "collector_id")?,
            agent_version: required(agent_version, "agent_version")?,
            collected_at: required(collected_at, "collected_at")?,
            metrics: required(metrics, "metrics")?,
        })
    }
}

struct BlocksSeed<'b>(&'b mut Budget);

seq_seed!(BlocksSeed, Vec<RawBlock<'de>>);

impl<'de, 'b> Visitor<'de> for BlocksSeed<'b> {
    type Value = Vec<RawBlock<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of metric blocks")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut blocks = Vec::new();
        while let Some(block) = seq.next_element_seed(BlockSeed(&mut *self.0))? {
            let b = &mut *self.0;
            let limit = b.limits.max_blocks;
            Budget::take(
                &mut b.exceeded,
                &mut b.blocks,
                limit,
                "number of metric blocks",
            )?;
            blocks.push(block);
        }
        Ok(blocks)
    }
}

struct BlockSeed<'b>(&'b mut Budget);

impl<'de, 'b> DeserializeSeed<'de> for BlockSeed<'b> {
    type Value = RawBlock<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'b> Visitor<'de> for BlockSeed<'b> {
    type Value = RawBlock<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric block object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut family, mut instance, mut collected_at) = (None, None, None);
        let (mut columns, mut rows) = (None, None);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "family" => once(&mut family, "family", map.next_value::<Text<'de>>()?.0)?,
                "instance" => once(&mut instance, "instance", map.next_value::<Text<'de>>()?.0)?,
                "collected_at" => once(
                    &mut collected_at,
                    "collected_at",
                    map.next_value::<Option<Rfc3339>>()?.map(|t| t.0),
                )?,
                "columns" => once(
                    &mut columns,
                    "columns",
                    map.next_value_seed(ColumnsSeed(&mut *self.0))?,
                )?,
                "rows" => once(
                    &mut rows,
                    "rows",
                    map.next_value_seed(RowsSeed(&mut *self.0))?,
                )?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawBlock {
            family: required(family, "family")?,
            instance: required(instance, "instance")?,
            collected_at: collected_at.flatten(),
            columns: required(columns, "columns")?,
            rows: required(rows, "rows")?,
        })
    }
}

struct ColumnsSeed<'b>(&'b mut Budget);
seq_seed!(ColumnsSeed, Vec<Cow<'de, str>>);

impl<'de, 'b> Visitor<'de> for ColumnsSeed<'b> {
    type Value = Vec<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of column names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let b = self.0;
        let limit = b.limits.max_columns;
        let mut count = 0;
        let mut columns = Vec::new();
        while let Some(name) = seq.next_element::<Text<'de>>()? {
            Budget::take(&mut b.exceeded, &mut count, limit, "number of columns")?;
            columns.push(name.0);
        }
        Ok(columns)
    }
}

struct RowsSeed<'b>(&'b mut Budget);
seq_seed!(RowsSeed, Rows<'de>);

impl<'de, 'b> Visitor<'de> for RowsSeed<'b> {
    type Value = Rows<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Rows::default();
        while let Some(len) = seq.next_element_seed(RowSeed(&mut *self.0, &mut rows.cells))? {
            let b = &mut *self.0;
            let limit = b.limits.max_rows;
            Budget::take(&mut b.exceeded, &mut b.rows, limit, "number of rows")?;
            rows.lens.push(len);
        }
        Ok(rows)
    }
}

/// One row, appended to its block's cells; its value is the row's length.
struct RowSeed<'b, 'c, 'de>(&'b mut Budget, &'c mut Vec<Cell<'de>>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_, 'de> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_, 'de> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row: an array of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (b, cells) = (self.0, self.1);
        let (columns, limit) = (b.limits.max_columns, b.limits.max_cells);
        let mut count = 0;
        while let Some(cell) = seq.next_element::<Cell<'de>>()? {
            Budget::take(
                &mut b.exceeded,
                &mut count,
                columns,
                "number of values in a row",
            )?;
            Budget::take(&mut b.exceeded, &mut b.cells, limit, "number of values")?;
            cells.push(cell);
        }
        Ok(count)
    }
}

impl<'a> RawBatch<'a> {
    /// Views an owned batch through the same structure, without copying its strings.
    pub(crate) fn borrow(w: &'a WireBatch) -> Self {
        Self {
            version: w.version,
            batch_id: w.batch_id,
            collector_id: w.collector_id,
            agent_version: Cow::Borrowed(&w.agent_version),
            collected_at: w.collected_at,
            metrics: w
                .metrics
                .iter()
                .map(|b| RawBlock {
                    family: Cow::Borrowed(&b.family),
                    instance: Cow::Borrowed(&b.instance),
                    collected_at: b.collected_at,
                    columns: b
                        .columns
                        .iter()
                        .map(|c| Cow::Borrowed(c.as_str()))
                        .collect(),
                    rows: Rows {
                        cells: b.rows.iter().flatten().map(Cell::from).collect(),
                        lens: b.rows.iter().map(Vec::len).collect(),
                    },
                })
                .collect(),
        }
    }
}
