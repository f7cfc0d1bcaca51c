//! Tests of client values as typed SQL values: DRF's messages, precision and length limits,
//! what both backends store, and lists.

use super::*;

#[test]
fn integers_follow_drf() {
    assert_eq!(
        parse_text(ColumnKind::Integer, "42"),
        Ok(SqlValue::Integer(42))
    );
    assert_eq!(
        parse_text(ColumnKind::Integer, "7.0"),
        Ok(SqlValue::Integer(7))
    );
    assert_eq!(
        parse_text(ColumnKind::Integer, "7.5"),
        Err(INVALID_INTEGER.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Integer, "abc"),
        Err(INVALID_INTEGER.into())
    );
    assert_eq!(
        parse_text(ColumnKind::SmallInt, "40000"),
        Err("Ensure this value is less than or equal to 32767.".into())
    );
    assert_eq!(
        parse_json(ColumnKind::Integer, &Value::from("12")),
        Ok(SqlValue::Integer(12))
    );
    assert_eq!(
        parse_json(ColumnKind::Integer, &Value::Bool(true)),
        Err(INVALID_INTEGER.into())
    );
}

#[test]
fn decimals_are_checked_against_precision_and_scale() {
    let kind = ColumnKind::Numeric {
        precision: 5,
        scale: 2,
    };
    assert_eq!(
        parse_json(kind, &Value::from(12.5)),
        Ok(SqlValue::Numeric("12.50".into()))
    );
    assert_eq!(
        parse_json(kind, &Value::from("-1.25")),
        Ok(SqlValue::Numeric("-1.25".into()))
    );
    assert_eq!(
        parse_text(kind, "1.255"),
        Err("Ensure that there are no more than 2 decimal places.".into())
    );
    assert_eq!(
        parse_text(kind, "123456"),
        Err("Ensure that there are no more than 5 digits in total.".into())
    );
    assert_eq!(
        parse_text(kind, "1234.5"),
        Err("Ensure that there are no more than 3 digits before the decimal point.".into())
    );
    assert_eq!(parse_text(kind, "NaN"), Err(INVALID_NUMBER.into()));
}

#[test]
fn text_respects_max_length_in_characters() {
    let kind = ColumnKind::Varchar { max_length: 3 };
    assert_eq!(
        parse_json(kind, &Value::from("äöü")),
        Ok(SqlValue::Text("äöü".into()))
    );
    assert_eq!(
        parse_json(kind, &Value::from("abcd")),
        Err("Ensure this field has no more than 3 characters.".into())
    );
    assert_eq!(
        parse_json(kind, &Value::from(12)),
        Ok(SqlValue::Text("12".into()))
    );
    assert_eq!(
        parse_json(kind, &serde_json::json!([1])),
        Err(INVALID_STRING.into())
    );
    assert_eq!(
        parse_json(ColumnKind::Text, &Value::from("a\0b")),
        Err(NULL_CHARACTER.into())
    );
}

#[test]
fn instants_accept_offsets_and_naive_utc() {
    let expected = chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for text in [
        "2024-06-01T12:00:00+02:00",
        "2024-06-01T10:00:00Z",
        "2024-06-01 10:00:00",
        "2024-06-01T10:00",
    ] {
        assert_eq!(
            parse_text(ColumnKind::Timestamptz, text),
            Ok(SqlValue::Timestamptz(expected)),
            "{text}"
        );
    }
    assert_eq!(
        parse_text(ColumnKind::Timestamptz, "yesterday"),
        Err(INVALID_DATETIME.into())
    );
    assert_eq!(
        SqlValue::Timestamptz(expected).to_json(),
        Value::from("2024-06-01T10:00:00Z")
    );
}

#[test]
fn values_outside_what_both_backends_store_are_field_errors() {
    assert_eq!(
        parse_text(ColumnKind::Date, "-5000-01-01"),
        Err(INVALID_DATE.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Date, "0000-01-01"),
        Err(INVALID_DATE.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Timestamptz, "+10000-01-01T00:00:00Z"),
        Err(INVALID_DATETIME.into())
    );
    assert!(parse_text(ColumnKind::Date, "0001-01-01").is_ok());
    assert_eq!(
        parse_json(ColumnKind::Json, &serde_json::json!({"a": ["x\u{0}y"]})),
        Err(NULL_CHARACTER.into())
    );
    assert_eq!(
        parse_json(ColumnKind::Json, &serde_json::json!({"k\u{0}": 1})),
        Err(NULL_CHARACTER.into())
    );
    assert!(parse_json(ColumnKind::Json, &serde_json::json!({"a": [1, "b"]})).is_ok());
}

const LIST: ColumnMeta = ColumnMeta {
    nullable: true,
    array: true,
    ..ColumnMeta::plain("tags", ColumnKind::SmallInt)
};

#[test]
fn lists_follow_drf_list_field() {
    assert_eq!(
        parse_column_json(&LIST, &serde_json::json!([1, "2"])),
        Ok(SqlValue::List(vec![
            SqlValue::SmallInt(1),
            SqlValue::SmallInt(2)
        ]))
    );
    assert_eq!(
        parse_column_json(&LIST, &serde_json::json!([])),
        Ok(SqlValue::List(Vec::new()))
    );
    for (value, type_name) in [
        (serde_json::json!("1,2"), "str"),
        (serde_json::json!(3), "int"),
        (serde_json::json!(1.5), "float"),
        (serde_json::json!({"a": 1}), "dict"),
        (serde_json::json!(true), "bool"),
    ] {
        assert_eq!(
            parse_column_json(&LIST, &value),
            Err(InvalidValue::Message(format!(
                "Expected a list of items but got type \"{type_name}\"."
            ))),
            "{value}"
        );
    }
    let invalid = parse_column_json(&LIST, &serde_json::json!([1, "x", null, 99999])).unwrap_err();
    assert_eq!(
        invalid,
        InvalidValue::Items(
            [
                (1, INVALID_INTEGER.to_string()),
                (2, MAY_NOT_BE_NULL.to_string()),
                (
                    3,
                    "Ensure this value is less than or equal to 32767.".to_string()
                ),
            ]
            .into_iter()
            .collect()
        )
    );
    assert_eq!(
        invalid.to_string(),
        "item 1: A valid integer is required.; item 2: This field may not be null.; item 3: \
         Ensure this value is less than or equal to 32767."
    );
    assert_eq!(
        SqlValue::List(vec![SqlValue::Text("a".into()), SqlValue::Boolean(true)]).to_json(),
        serde_json::json!(["a", true])
    );
}

#[test]
fn char_and_citext_are_text_with_their_limits() {
    assert_eq!(
        parse_json(ColumnKind::Char { length: 2 }, &Value::from("USA")),
        Err("Ensure this field has no more than 2 characters.".into())
    );
    assert_eq!(
        parse_json(ColumnKind::Citext, &Value::from("Ann@Example.com")),
        Ok(SqlValue::Text("Ann@Example.com".into()))
    );
    assert_eq!(
        parse_json(ColumnKind::Citext, &serde_json::json!([])),
        Err(INVALID_STRING.into())
    );
}

#[test]
fn other_kinds_reject_garbage_with_drf_messages() {
    assert_eq!(
        parse_text(ColumnKind::Date, "2024-13-01"),
        Err(INVALID_DATE.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Time, "25:00"),
        Err(INVALID_TIME.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Uuid, "not-a-uuid"),
        Err(INVALID_UUID.into())
    );
    assert_eq!(
        parse_text(ColumnKind::Bytes, "***"),
        Err(INVALID_BASE64.into())
    );
    assert_eq!(
        parse_json(ColumnKind::Boolean, &Value::from("maybe")),
        Err(INVALID_BOOLEAN.into())
    );
    assert_eq!(
        parse_json(ColumnKind::Boolean, &Value::from("true")),
        Ok(SqlValue::Boolean(true))
    );
    assert_eq!(
        parse_text(ColumnKind::Double, "inf"),
        Err(INVALID_NUMBER.into())
    );
}
