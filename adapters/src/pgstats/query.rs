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
    let spec = spec(family);
    let failed = |e: &dyn std::fmt::Display| PgStatsError::query(family, e);
    // Row by row: libpq never holds the whole result (10,000 tables' rows) at once.
    let cursor = LoadConnection::<PgRowByRowLoadingMode>::load(conn, diesel::sql_query(sql))
        .map_err(|e| failed(&e))?;
    let mut out: Option<(CollectedRows, Vec<ColumnKind>)> = None;
    for row in cursor {
        let row = row.map_err(|e| failed(&e))?;
        if out.is_none() {
            out = Some(columns(spec, &row)?);
        }
        let Some((rows, kinds)) = out.as_mut() else {
            unreachable!()
        };
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            let field = row
                .get(i)
                .ok_or_else(|| failed(&"row shorter than its columns"))?;
            values.push(decode(*kind, field.value()).map_err(|e| failed(&e))?);
        }
        rows.push(values);
    }
    Ok(out.map_or_else(|| CollectedRows::new(family, &[]), |(rows, _)| rows))
}

/// The result's columns, each a column of the family, in result order.
fn columns<'a>(
    spec: &'static FamilySpec,
    row: &impl Row<'a, Pg>,
) -> Result<(CollectedRows, Vec<ColumnKind>), PgStatsError> {
    let mut names = Vec::with_capacity(row.field_count());
    let mut kinds = Vec::with_capacity(row.field_count());
    for i in 0..row.field_count() {
        let field = row.get(i).expect("index below field_count");
        let name = field.field_name().unwrap_or("?");
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
    }
    Ok((CollectedRows::new(spec.name, &names), kinds))
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
