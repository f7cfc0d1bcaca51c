//! Defaults each column type accepts.

use super::*;

// ---------------------------------------------------------------------------
// 6. defaults

#[test]
fn string_default_on_integer() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndefault = \"3\"\n"),
        "16:11",
        "unsupported default `\"3\"` for column `x` of type `integer`",
    );
    assert!(help(&diagnostic).contains("an integer between -2147483648 and 2147483647"));
}

#[test]
fn now_on_a_non_temporal_column() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\ndefault = \"now\"\n"),
        "16:11",
        "unsupported default `\"now\"` for column `x` of type `text`",
    );
    assert!(help(&diagnostic).contains("only supported on date, time, timestamp and timestamptz"));
}

#[test]
fn default_on_serial() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"bigserial\"\ndefault = 1\n"),
        "16:11",
        "unsupported default `1` for column `x` of type `bigserial`",
    );
    assert!(help(&diagnostic).contains("database generates"));
}

#[test]
fn default_on_json_and_bytes() {
    for ty in ["json", "bytes"] {
        let diagnostic = check_body_error(
            &table_with_column(&format!(
                "name = \"x\"\ntype = \"{ty}\"\ndefault = \"{{}}\"\n"
            )),
            "16:11",
            &format!("for column `x` of type `{ty}`"),
        );
        assert!(help(&diagnostic).contains("defaults are not supported"));
    }
}

#[test]
fn array_table_and_datetime_defaults() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndefault = [1, 2]\n"),
        "16:11",
        "unsupported default `[1, 2]`",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndefault = { a = 1 }\n"),
        "16:11",
        "unsupported default `{ a = 1 }`",
    );
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"date\"\ndefault = 2024-01-01\n"),
        "16:11",
        "unsupported default `2024-01-01` for column `x` of type `date`",
    );
    assert!(help(&diagnostic).contains("TOML dates and times are not supported"));
}

#[test]
fn integer_out_of_range() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"smallint\"\ndefault = 40000\n"),
        "16:11",
        "unsupported default `40000` for column `x` of type `smallint`",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndefault = -2147483649\n"),
        "16:11",
        "unsupported default `-2147483649`",
    );
}

#[test]
fn text_default_longer_than_varchar() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"varchar(3)\"\ndefault = \"abcd\"\n"),
        "16:11",
        "unsupported default `\"abcd\"` for column `x` of type `varchar(3)`",
    );
    assert!(help(&diagnostic).contains("at most 3 characters"));
}

#[test]
fn uuid_default_not_canonical() {
    check_body_error(
        &table_with_column(
            "name = \"x\"\ntype = \"uuid\"\ndefault = \"67e5504410b1426f9247bb680e5fe0c8\"\n",
        ),
        "16:11",
        "for column `x` of type `uuid`",
    );
}

#[test]
fn non_finite_float_default() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"double\"\ndefault = nan\n"),
        "16:11",
        "unsupported default `nan`",
    );
}

#[test]
fn float_default_on_integer() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndefault = 1.5\n"),
        "16:11",
        "unsupported default `1.5`",
    );
}

#[test]
fn supported_defaults_are_lowered() {
    let columns = [
        ("boolean", "false", DefaultValue::Boolean(false)),
        ("smallint", "-32768", DefaultValue::Integer(-32768)),
        ("bigint", "9000000000", DefaultValue::Integer(9_000_000_000)),
        ("double", "2", DefaultValue::Number("2".to_owned())),
        ("real", "0.25", DefaultValue::Number("0.25".to_owned())),
        (
            "numeric(5, 2)",
            "123.45",
            DefaultValue::Number("123.45".to_owned()),
        ),
        ("numeric(5, 2)", "7", DefaultValue::Number("7".to_owned())),
        ("double", "1e3", DefaultValue::Number("1000".to_owned())),
        ("text", "\"now!\"", DefaultValue::Text("now!".to_owned())),
        (
            "varchar(3)",
            "\"abc\"",
            DefaultValue::Text("abc".to_owned()),
        ),
        (
            "uuid",
            "\"67e55044-10b1-426f-9247-bb680e5fe0c8\"",
            DefaultValue::Text("67e55044-10b1-426f-9247-bb680e5fe0c8".to_owned()),
        ),
        ("date", "\"now\"", DefaultValue::Now),
        ("time", "\"now\"", DefaultValue::Now),
        ("timestamp", "\"now\"", DefaultValue::Now),
        ("timestamptz", "\"now\"", DefaultValue::Now),
    ];
    for (ty, value, expected) in columns {
        let schema = parse_body(&table_with_column(&format!(
            "name = \"x\"\ntype = \"{ty}\"\ndefault = {value}\n"
        )));
        assert_eq!(
            schema.tables[1].columns[1].default,
            Some(expected),
            "{ty} = {value}"
        );
    }
}

#[test]
fn numeric_default_too_large() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"numeric(5, 2)\"\ndefault = 1234.5\n"),
        "16:11",
        "unsupported default `1234.5`",
    );
}
