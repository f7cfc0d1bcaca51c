//! Column types, and tables or columns described twice.

use super::*;

// ---------------------------------------------------------------------------
// 1. unknown types

#[test]
fn unknown_type() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integr\"\n"),
        "15:8",
        "unknown column type `integr`",
    );
    assert!(help(&diagnostic).contains("varchar(N)"));
    assert!(help(&diagnostic).contains("timestamptz"));
}

#[test]
fn varchar_of_zero_length() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"varchar(0)\"\n"),
        "15:8",
        "invalid column type `varchar(0)`: the length of `varchar` must be between 1 and 10485760",
    );
    assert!(help(&diagnostic).starts_with("supported types are"));
}

#[test]
fn numeric_scale_above_precision() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"numeric(5, 7)\"\n"),
        "15:8",
        "invalid column type `numeric(5, 7)`: the scale of `numeric` must be between 0 and the precision",
    );
}

#[test]
fn varchar_without_length() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"varchar\"\n"),
        "15:8",
        "`varchar` needs a length",
    );
}

#[test]
fn parameters_on_a_simple_type() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer(4)\"\n"),
        "15:8",
        "`integer` takes no parameters",
    );
}

#[test]
fn types_are_case_insensitive_and_tolerate_spaces() {
    let schema = parse_body(&table_with_column(
        "name = \"x\"\ntype = \"NUMERIC( 10 ,2 )\"\n",
    ));
    assert_eq!(
        schema.tables[1].columns[1].ty,
        ColumnType::Numeric {
            precision: 10,
            scale: 2
        }
    );
}

#[test]
fn missing_type() {
    check_body_error(
        &table_with_column("name = \"x\"\n"),
        "13:1",
        "column `x` of table `t` has no `type`",
    );
}

// ---------------------------------------------------------------------------
// 2. duplicates

#[test]
fn duplicate_table() {
    let body = "[[table]]\nname = \"v\"\nread_only = true\n[[table.column]]\nname = \"n\"\ntype = \"text\"\n";
    let diagnostic = check_body_error(
        body,
        "8:8",
        "duplicate table `v`: it is already described at line 4",
    );
    assert!(help(&diagnostic).contains("rename or remove"));
}

#[test]
fn duplicate_column() {
    check_body_error(
        &table_with_column("name = \"id\"\ntype = \"text\"\n"),
        "14:8",
        "duplicate column `id` in table `t`: it is already described at line 10",
    );
}
