use super::*;
use proptest::prelude::*;
use serde_json::json;
use time::UtcOffset;
use time::format_description::well_known::Rfc3339;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn collector() -> CollectorId {
    CollectorId::from_uuid(Uuid::from_u128(42))
}

fn ctx() -> ValidationContext {
    ValidationContext {
        collector_id: collector(),
        now: now(),
        limits: BatchLimits::default(),
    }
}

fn batch(metrics: Value) -> Value {
    json!({
        "version": 1,
        "batch_id": Uuid::from_u128(7),
        "collector_id": collector().as_uuid(),
        "agent_version": "0.1.0",
        "collected_at": now().format(&Rfc3339).unwrap(),
        "metrics": metrics,
    })
}

fn check(v: Value) -> Result<ValidatedBatch, BatchError> {
    validate(parse(v.to_string().as_bytes())?, &ctx())
}

fn db_block(rows: Value) -> Value {
    json!([{ "family": "pg_database", "instance": "main", "columns": ["datname", "xact_commit", "size_bytes"], "rows": rows }])
}

#[test]
fn a_valid_batch_becomes_typed_columns_with_nulls_for_unsent_columns() {
    let b = check(batch(db_block(json!([
        ["postgres", 10, 1.5e6],
        ["app", null, 2]
    ]))))
    .unwrap();
    assert_eq!(b.blocks.iter().map(FamilyRows::len).sum::<usize>(), 2);
    let block = &b.blocks[0];
    let (commit_idx, _) = block.family.column("xact_commit").unwrap();
    assert_eq!(
        block.columns[commit_idx],
        ColumnValues::Int(vec![Some(10), None])
    );
    let (rollback_idx, _) = block.family.column("xact_rollback").unwrap();
    assert_eq!(
        block.columns[rollback_idx],
        ColumnValues::Int(vec![None, None])
    );
    assert_eq!(block.time, vec![now(), now()]);
}

#[test]
fn unknown_families_and_columns_are_skipped_and_reported() {
    let b = check(batch(json!([
        { "family": "pg_future_thing", "instance": "main", "columns": ["x"], "rows": [[1]] },
        { "family": "pg_database", "instance": "main", "columns": ["datname", "new_counter"], "rows": [["db", 3]] },
    ])))
    .unwrap();
    assert_eq!(b.blocks.len(), 1);
    assert!(b.skipped.families.contains("pg_future_thing"));
    assert!(b.skipped.columns.contains("pg_database.new_counter"));
}

#[test]
fn wrong_types_are_rejected_with_their_location() {
    let err = check(batch(db_block(json!([["postgres", "ten", 1]])))).unwrap_err();
    assert!(
        matches!(&err, BatchError::WrongType { row: 0, column, .. } if column == "xact_commit"),
        "{err}"
    );
    assert_eq!(err.code(), "wrong_type");
    assert!(check(batch(db_block(json!([[5, 1, 1]])))).is_err());
    assert!(check(batch(db_block(json!([["db", -1, 1]])))).is_err());
    assert!(check(batch(db_block(json!([["db", 1.5, 1]])))).is_err());
}

#[test]
fn non_finite_gauges_are_rejected() {
    let err = check(batch(db_block(json!([["db", 1, "NaN"]])))).unwrap_err();
    assert_eq!(err.code(), "non_finite");
    assert_eq!(
        check(batch(db_block(json!([["db", 1, "-Infinity"]]))))
            .unwrap_err()
            .code(),
        "non_finite"
    );
}

#[test]
fn future_and_too_old_timestamps_are_rejected() {
    let mut future = batch(db_block(json!([["db", 1, 1]])));
    future["collected_at"] = json!((now() + Duration::minutes(6)).format(&Rfc3339).unwrap());
    assert_eq!(check(future).unwrap_err().code(), "timestamp_in_future");

    let old = (now() - Duration::days(8)).format(&Rfc3339).unwrap();
    let err = check(batch(json!([{ "family": "pg_table", "instance": "main", "columns": ["time", "relname"], "rows": [[old, "t"]] }]))).unwrap_err();
    assert!(
        matches!(
            err,
            BatchError::TimestampTooOld {
                retention_days: 7,
                ..
            }
        ),
        "{err}"
    );

    let near = (now() + Duration::minutes(4)).format(&Rfc3339).unwrap();
    assert!(check(batch(json!([{ "family": "pg_log_event", "instance": "main", "columns": ["time", "message"], "rows": [[near, "x"]] }]))).is_ok());
}

#[test]
fn body_collector_must_match_the_authenticated_one() {
    let mut b = batch(db_block(json!([])));
    b["collector_id"] = json!(Uuid::from_u128(99));
    assert_eq!(check(b).unwrap_err().code(), "collector_mismatch");
}

#[test]
fn structural_problems_are_rejected() {
    assert_eq!(
        check(batch(db_block(json!([["db", 1]]))))
            .unwrap_err()
            .code(),
        "row_length"
    );
    let dup = json!([{ "family": "pg_database", "instance": "m", "columns": ["datname", "datname"], "rows": [] }]);
    assert_eq!(check(batch(dup)).unwrap_err().code(), "duplicate_column");
    let long = json!([{ "family": "x".repeat(64), "instance": "m", "columns": [], "rows": [] }]);
    assert_eq!(check(batch(long)).unwrap_err().code(), "invalid_name");
    let bad_instance =
        json!([{ "family": "pg_database", "instance": "", "columns": [], "rows": [] }]);
    assert_eq!(
        check(batch(bad_instance)).unwrap_err().code(),
        "invalid_name"
    );
    assert_eq!(parse(b"{not json").unwrap_err().code(), "malformed_batch");
    let mut v2 = batch(db_block(json!([])));
    v2["version"] = json!(2);
    assert_eq!(check(v2.clone()).unwrap_err().code(), "unsupported_version");
    assert_eq!(
        parse_and_validate(v2.to_string().as_bytes(), &ctx())
            .unwrap_err()
            .code(),
        "unsupported_version"
    );
    let v3_shape = json!({"version": 3, "samples": []});
    assert_eq!(
        parse(v3_shape.to_string().as_bytes()).unwrap_err().code(),
        "unsupported_version"
    );
}

#[test]
fn limits_are_enforced() {
    let rows: Vec<Value> = (0..11).map(|i| json!([format!("db{i}"), 1, 1])).collect();
    let c = ValidationContext {
        limits: BatchLimits {
            max_rows: 10,
            ..BatchLimits::default()
        },
        ..ctx()
    };
    let err = validate(
        parse(batch(db_block(json!(rows))).to_string().as_bytes()).unwrap(),
        &c,
    )
    .unwrap_err();
    assert_eq!(err.code(), "limit_exceeded");
    let long_label = "x".repeat(1025);
    assert_eq!(
        check(batch(db_block(json!([[long_label, 1, 1]]))))
            .unwrap_err()
            .code(),
        "value_too_long"
    );
}

#[test]
fn timestamps_are_normalised_to_utc_microseconds() {
    let t = (now() - Duration::hours(1)).to_offset(time::macros::offset!(+2));
    let s = t
        .format(&Rfc3339)
        .unwrap()
        .replace("+02:00", ".987654321+02:00");
    let b = check(batch(
        json!([{ "family": "pg_log_event", "instance": "m", "columns": ["time"], "rows": [[s]] }]),
    ))
    .unwrap();
    assert_eq!(b.blocks[0].time[0].offset(), UtcOffset::UTC);
    assert_eq!(b.blocks[0].time[0].nanosecond(), 987_654_000);
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::Array)
    })
}

fn arb_wire() -> impl Strategy<Value = WireBatch> {
    let family = prop_oneof![
        Just("pg_database".to_owned()),
        Just("sys_load".to_owned()),
        "[a-z_]{1,10}"
    ];
    let block = (
        family,
        "[a-z0-9:]{1,8}",
        prop::collection::vec("[a-z_]{1,8}", 0..4),
        prop::collection::vec(prop::collection::vec(arb_value(), 0..4), 0..4),
    )
        .prop_map(|(family, instance, columns, rows)| WireBlock {
            family,
            instance,
            collected_at: None,
            columns,
            rows,
        });
    (
        any::<u128>(),
        any::<u128>(),
        "[0-9.]{0,8}",
        0i64..4_000_000_000,
        prop::collection::vec(block, 0..4),
    )
        .prop_map(|(b, c, agent_version, secs, metrics)| WireBatch {
            version: WIRE_VERSION,
            batch_id: Uuid::from_u128(b),
            collector_id: Uuid::from_u128(c),
            agent_version,
            collected_at: OffsetDateTime::from_unix_timestamp(secs).unwrap(),
            metrics,
        })
}

proptest! {
    #[test]
    fn any_batch_that_serializes_round_trips(wire in arb_wire()) {
        let bytes = serde_json::to_vec(&wire).unwrap();
        prop_assert_eq!(parse(&bytes).unwrap(), wire);
    }

    #[test]
    fn no_byte_input_panics_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
        let _ = parse_and_validate(&bytes, &ctx());
    }

    /// The server's one-pass path and the owned path are one validator: same result always.
    #[test]
    fn parse_and_validate_agrees_with_parse_then_validate(wire in arb_wire(), ours in any::<bool>()) {
        let mut wire = wire;
        if ours {
            wire.collector_id = collector().as_uuid();
            wire.collected_at = now();
        }
        let bytes = serde_json::to_vec(&wire).unwrap();
        let one_pass = parse_and_validate(&bytes, &ctx());
        let two_pass = parse(&bytes).and_then(|w| validate(w, &ctx()));
        match (one_pass, two_pass) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "one pass {a:?} vs two passes {b:?}"),
        }
    }

    #[test]
    fn no_structured_input_panics_validation(wire in arb_wire()) {
        let mut wire = wire;
        wire.collector_id = collector().as_uuid();
        let _ = validate(wire, &ctx());
    }
}

/// Regression guard for issue 11 (finding 7): escape sequences and line breaks were stored in
/// label values.
#[test]
fn labels_with_control_characters_are_refused_and_messages_may_hold_line_breaks() {
    for bad in ["db\u{1b}[31m", "db\r\nname", "db\tx", "db\u{7f}"] {
        let err = check(batch(db_block(json!([[bad, 1, 1]])))).unwrap_err();
        assert!(
            matches!(&err, BatchError::WrongType { column, .. } if column == "datname"),
            "{bad:?}: {err}"
        );
    }
    let log = json!([{ "family": "pg_log_event", "instance": "main",
        "columns": ["severity", "message"], "rows": [["ERROR", "line one\nline two"]] }]);
    assert!(check(batch(log)).is_ok());
}
