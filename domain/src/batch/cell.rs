//! The batch as read straight from the request body, borrowing its strings.
//!
//! The server parses every push into this instead of a `serde_json::Value` tree: a
//! 1,000-row batch holds ~27,000 cells, and building `Value`s for them was the larger
//! part of the server's CPU per push (see `benches/batch.rs`). [`WireBatch`] stays the
//! owned, serializable form for agents and tests; it is validated through the same code
//! by borrowing it as a [`RawBatch`].

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use super::WireBatch;

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

#[derive(Debug, Deserialize)]
pub(crate) struct RawBatch<'a> {
    pub version: u32,
    pub batch_id: Uuid,
    pub collector_id: Uuid,
    #[serde(borrow)]
    pub agent_version: Cow<'a, str>,
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    #[serde(borrow)]
    pub metrics: Vec<RawBlock<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawBlock<'a> {
    #[serde(borrow)]
    pub family: Cow<'a, str>,
    #[serde(borrow)]
    pub instance: Cow<'a, str>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub collected_at: Option<OffsetDateTime>,
    #[serde(borrow)]
    pub columns: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub rows: Vec<Vec<Cell<'a>>>,
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
                    rows: b
                        .rows
                        .iter()
                        .map(|r| r.iter().map(Cell::from).collect())
                        .collect(),
                })
                .collect(),
        }
    }
}
