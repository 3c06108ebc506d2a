//! Runs a collector's SQL and turns its result into catalog rows, checking every column's
//! name and PostgreSQL type against the family's catalog entry. The collectors' SQL casts
//! each column to its kind's type (`::text`, `::int8`, `::float8`, `timestamptz`), and a
//! column that does not match is an error, not a silent conversion: a collector never sends
//! a value the server would reject.

use diesel::connection::LoadConnection;
use diesel::deserialize::FromSql;
use diesel::pg::{Pg, PgConnection, PgRowByRowLoadingMode, PgValue};
use diesel::row::{Field, Row};
use diesel::sql_types;
use pganalytics_domain::catalog::{self, ColumnKind, FamilySpec};
use pganalytics_domain::collect::CollectedRows;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PgStatsError;

const TEXT_OID: u32 = 25;
const INT8_OID: u32 = 20;
const FLOAT8_OID: u32 = 701;
const TIMESTAMPTZ_OID: u32 = 1184;

fn expected_oid(kind: ColumnKind) -> (u32, &'static str) {
    match kind {
        ColumnKind::Label | ColumnKind::Text => (TEXT_OID, "text"),
        ColumnKind::Counter => (INT8_OID, "int8"),
        ColumnKind::Gauge => (FLOAT8_OID, "float8"),
        ColumnKind::Timestamp => (TIMESTAMPTZ_OID, "timestamptz"),
    }
}

fn spec(family: &'static str) -> &'static FamilySpec {
    catalog::family(family).unwrap_or_else(|| panic!("{family} is not in the catalog"))
}

/// Runs `sql` and returns its rows as `family` rows.
pub(super) fn family_rows(
    conn: &mut PgConnection,
    family: &'static str,
    sql: &str,
) -> Result<CollectedRows, PgStatsError> {
    family_rows_with(conn, family, sql, |_| Disposition::Keep).map(|(rows, _)| rows)
}

/// A row as a collector's [`family_rows_with`] callback sees it: the values of the family's
/// columns, which it may rewrite, and the meta columns (named `_…`, int8) that steer it but
/// are not sent.
pub(super) struct RowView<'a> {
    pub names: &'a [&'static str],
    pub kinds: &'a [ColumnKind],
    pub values: &'a mut [Value],
    pub meta: &'a [Option<i64>],
}

/// What becomes of a row after the callback saw it.
pub(super) enum Disposition {
    /// Encoded now.
    Keep,
    /// Handed back to the caller, to finish once every other row was seen.
    Defer,
}

/// [`family_rows`] with a say on every row; returns the rows kept and those deferred.
pub(super) fn family_rows_with(
    conn: &mut PgConnection,
    family: &'static str,
    sql: &str,
    mut each: impl FnMut(RowView<'_>) -> Disposition,
) -> Result<(CollectedRows, Vec<Vec<Value>>), PgStatsError> {
    let spec = spec(family);
    let failed = |e: &dyn std::fmt::Display| PgStatsError::query(family, e);
    // Row by row: libpq never holds the whole result (10,000 tables' rows) at once.
    let cursor = LoadConnection::<PgRowByRowLoadingMode>::load(conn, diesel::sql_query(sql))
        .map_err(|e| failed(&e))?;
    let mut out: Option<(CollectedRows, Vec<Option<ColumnKind>>, Vec<ColumnKind>)> = None;
    let mut deferred = Vec::new();
    for row in cursor {
        let row = row.map_err(|e| failed(&e))?;
        if out.is_none() {
            out = Some(columns(spec, &row)?);
        }
        let Some((rows, slots, kinds)) = out.as_mut() else {
            unreachable!()
        };
        let mut values = Vec::with_capacity(kinds.len());
        let mut meta = Vec::new();
        for (i, slot) in slots.iter().enumerate() {
            let field = row
                .get(i)
                .ok_or_else(|| failed(&"row shorter than its columns"))?;
            match slot {
                Some(kind) => values.push(decode(*kind, field.value()).map_err(|e| failed(&e))?),
                None => meta.push(decode_meta(field.value()).map_err(|e| failed(&e))?),
            }
        }
        let view = RowView {
            names: &rows.columns,
            kinds,
            values: &mut values,
            meta: &meta,
        };
        match each(view) {
            Disposition::Keep => rows.push(values),
            Disposition::Defer => deferred.push(values),
        }
    }
    Ok(match out {
        Some((rows, _, _)) => (rows, deferred),
        None => (CollectedRows::new(family, &[]), deferred),
    })
}

fn decode_meta(value: Option<PgValue<'_>>) -> diesel::deserialize::Result<Option<i64>> {
    value
        .map(|v| {
            if v.get_oid().get() != INT8_OID {
                return Err(
                    format!("meta column of type oid {}, expected int8", v.get_oid()).into(),
                );
            }
            <i64 as FromSql<sql_types::BigInt, Pg>>::from_sql(v)
        })
        .transpose()
}

/// The result's columns, each a column of the family or a meta column (`_…`), in result
/// order: the family's rows, each result column's kind (`None` for meta) and the kinds of
/// the family's columns.
type Columns = (CollectedRows, Vec<Option<ColumnKind>>, Vec<ColumnKind>);

fn columns<'a>(spec: &'static FamilySpec, row: &impl Row<'a, Pg>) -> Result<Columns, PgStatsError> {
    let mut names = Vec::with_capacity(row.field_count());
    let mut kinds = Vec::with_capacity(row.field_count());
    let mut slots = Vec::with_capacity(row.field_count());
    for i in 0..row.field_count() {
        let field = row.get(i).expect("index below field_count");
        let name = field.field_name().unwrap_or("?");
        if name.starts_with('_') {
            slots.push(None);
            continue;
        }
        let Some((_, col)) = spec.column(name) else {
            return Err(PgStatsError::query(
                spec.name,
                &format!("column {name} is not in the catalog"),
            ));
        };
        if let Some(value) = field.value() {
            check_type(spec.name, col.name, col.kind, &value)?;
        }
        names.push(col.name);
        kinds.push(col.kind);
        slots.push(Some(col.kind));
    }
    Ok((CollectedRows::new(spec.name, &names), slots, kinds))
}

fn check_type(
    family: &'static str,
    column: &str,
    kind: ColumnKind,
    value: &PgValue<'_>,
) -> Result<(), PgStatsError> {
    let (oid, sql_type) = expected_oid(kind);
    if value.get_oid().get() == oid {
        return Ok(());
    }
    Err(PgStatsError::query(
        family,
        &format!(
            "column {column} has type oid {}, expected {sql_type} for a {}",
            value.get_oid(),
            kind.as_str()
        ),
    ))
}

/// One value as the wire format wants it. Values the server would refuse for their kind (a
/// negative counter, a non-finite gauge) become null rather than spoil the whole batch.
fn decode(kind: ColumnKind, value: Option<PgValue<'_>>) -> diesel::deserialize::Result<Value> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let (oid, _) = expected_oid(kind);
    if value.get_oid().get() != oid {
        return Err(format!("type oid {} changed between rows", value.get_oid()).into());
    }
    Ok(match kind {
        ColumnKind::Label | ColumnKind::Text => {
            json!(<String as FromSql<sql_types::Text, Pg>>::from_sql(value)?)
        }
        ColumnKind::Counter => {
            let v = <i64 as FromSql<sql_types::BigInt, Pg>>::from_sql(value)?;
            if v < 0 { Value::Null } else { json!(v) }
        }
        ColumnKind::Gauge => {
            let v = <f64 as FromSql<sql_types::Double, Pg>>::from_sql(value)?;
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
        ColumnKind::Timestamp => {
            let t = <OffsetDateTime as FromSql<sql_types::Timestamptz, Pg>>::from_sql(value)?;
            json!(t.format(&Rfc3339)?)
        }
    })
}
