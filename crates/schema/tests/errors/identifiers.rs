//! SQL names and Rust names: validity, length, collisions.

use super::*;

// ---------------------------------------------------------------------------
// 5. identifiers

#[test]
fn empty_sql_name() {
    check_body_error(
        &table_with_column("name = \"\"\ntype = \"text\"\n"),
        "14:8",
        "column name is empty",
    );
}

#[test]
fn sql_name_too_long() {
    let long = "a".repeat(64);
    check_body_error(
        &format!(
            "[[table]]\nname = \"{long}\"\nread_only = true\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n"
        ),
        "8:8",
        &format!("table name `{long}` is 64 bytes long, more than PostgreSQL's limit of 63"),
    );
}

#[test]
fn sql_name_with_bad_character() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"a/b\"\nread_only = true\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n",
        "8:8",
        "table name `a/b` contains the character '/'",
    );
    assert!(help(&diagnostic).contains("URL path segments"));
    check_body_error(
        &table_with_column("name = \"a\\tb\"\ntype = \"text\"\n"),
        "14:8",
        "column name `a\\tb` contains the control character '\\t'",
    );
}

/// Issue 25: samples ported from other engines name tables `Order Details`; such names (and
/// ones starting with a digit, or outside ASCII) are served at their percent-encoded names.
#[test]
fn table_names_may_be_any_printable_text_but_a_slash() {
    let schema = parse_body(
        "[[table]]\nname = \"1st\"\nread_only = true\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n\
         [[table]]\nname = \"Order Details\"\nread_only = true\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n",
    );
    let names: Vec<(&str, &str)> = schema.tables[1..]
        .iter()
        .map(|table| (table.sql_name.as_str(), table.rust_name.as_str()))
        .collect();
    assert_eq!(names, [("1st", "_1st"), ("Order Details", "order_details")]);
    assert_eq!(
        tenantapi_schema::names::url_segment("Order Details"),
        "Order%20Details"
    );
    assert_eq!(
        tenantapi_schema::names::url_segment("Straße"),
        "Stra%C3%9Fe"
    );
    assert_eq!(
        tenantapi_schema::names::url_segment("maintenance-window"),
        "maintenance-window"
    );
}

/// Regression: a sample database's view has a `zip code` column, which stopped `gen`.
#[test]
fn column_names_may_be_any_printable_text() {
    let schema = parse_body(&table_with_column(
        "name = \"zip code\"\ntype = \"text\"\n[[table.column]]\nname = \"1st\"\ntype = \"text\"\n",
    ));
    let table = &schema.tables[1];
    assert_eq!(table.columns[1].rust_name, "zip_code");
    assert_eq!(table.columns[2].rust_name, "_1st");
}

#[test]
fn invalid_rust_name_override() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nrust_name = \"BadName\"\n"),
        "16:13",
        "`rust_name` `BadName` is not a valid snake_case Rust identifier",
    );
    assert!(help(&diagnostic).contains("`bad_name`"));
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nrust_name = \"match\"\n"),
        "16:13",
        "`rust_name` `match` is a Rust keyword",
    );
}

/// Regression: Pagila's `address.address`, `city.city` and `country.country` generated a
/// `table!` that diesel refuses ("column `address` cannot be named the same as it's table").
#[test]
fn a_column_named_like_its_table_gets_another_rust_name() {
    let schema = parse_body(&table_with_column("name = \"T\"\ntype = \"text\"\n"));
    let column = &schema.tables[1].columns[1];
    assert_eq!(
        (column.sql_name.as_str(), column.rust_name.as_str()),
        ("T", "t_")
    );
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nrust_name = \"t\"\n"),
        "16:13",
        "`rust_name` `t` of column `x` is its table's Rust name",
    );
    assert!(help(&diagnostic).contains("`t_`"), "{diagnostic:?}");
}

#[test]
fn two_columns_with_the_same_rust_name() {
    let diagnostic = check_body_error(
        &table_with_column(
            "name = \"a-b\"\ntype = \"text\"\n[[table.column]]\nname = \"a_b\"\ntype = \"text\"\n",
        ),
        "17:8",
        "columns `a-b` (line 14) and `a_b` of table `t` both map to the Rust name `a_b`",
    );
    assert!(help(&diagnostic).contains("rust_name"));
}

#[test]
fn two_tables_with_the_same_rust_name() {
    let body = "[[table]]\nname = \"a-b\"\nread_only = true\ncolumn = [{ name = \"x\", type = \"text\" }]\n\
                [[table]]\nname = \"a_b\"\nread_only = true\ncolumn = [{ name = \"x\", type = \"text\" }]\n";
    let diagnostic = check_body_error(
        body,
        "12:8",
        "tables `a-b` (line 8) and `a_b` both map to the Rust name `a_b`",
    );
    assert!(help(&diagnostic).contains("rust_name"));
}

/// Each table's types live in the table's own module, so two tables may derive the same
/// struct name (`twin` and `twin-` both give `Twin`); the `keys_and_names` snapshot compiles
/// such a pair.
#[test]
fn tables_may_share_a_struct_name() {
    let body = "[[table]]\nname = \"twin\"\nread_only = true\ncolumn = [{ name = \"x\", type = \"text\" }]\n\
                [[table]]\nname = \"twin-\"\nread_only = true\ncolumn = [{ name = \"x\", type = \"text\" }]\n";
    let schema = parse_body(body);
    assert_eq!(
        (
            schema.tables[1].rust_name.as_str(),
            schema.tables[1].struct_name.as_str()
        ),
        ("twin", "Twin")
    );
    assert_eq!(
        (
            schema.tables[2].rust_name.as_str(),
            schema.tables[2].struct_name.as_str()
        ),
        ("twin_", "Twin")
    );
}

#[test]
fn rust_name_override_resolves_a_collision() {
    let body = "[[table]]\nname = \"foo\"\nread_only = true\ncolumn = [{ name = \"x\", type = \"text\" }]\n\
                [[table]]\nname = \"new_foo\"\nrust_name = \"fresh_foo\"\nread_only = true\n\
                column = [{ name = \"x\", type = \"text\", rust_name = \"y\" }]\n";
    let schema = parse_body(body);
    assert_eq!(schema.tables[2].rust_name, "fresh_foo");
    assert_eq!(schema.tables[2].struct_name, "FreshFoo");
    assert_eq!(schema.tables[2].columns[0].rust_name, "y");
}
