//! Every kind of invalid description is reported at the offending key or value, with a fix.

use tenantapi_schema::model::{ColumnType, DefaultValue, Schema};
use tenantapi_schema::{Diagnostic, SchemaError, parse_str};

const FILE: &str = "test.toml";

/// Six valid lines: a version, its source and the read-only table holding it.
/// Bodies appended to it start at line 7.
const HEADER: &str = r#"version = "1"
version_source = { table = "v", column = "n" }
[[table]]
name = "v"
read_only = true
column = [{ name = "n", type = "text" }]
"#;

fn diagnostics(source: &str) -> Vec<Diagnostic> {
    match parse_str(FILE, source) {
        Ok(schema) => panic!("expected an error, got {schema:#?}"),
        Err(error) => error.diagnostics().to_vec(),
    }
}

/// Asserts that `source` gives exactly one diagnostic, at `expected_location`
/// (`line:column`), whose message contains `expected_message_fragment`.
fn check_error(
    source: &str,
    expected_location: &str,
    expected_message_fragment: &str,
) -> Diagnostic {
    let all = diagnostics(source);
    assert_eq!(
        all.len(),
        1,
        "expected one diagnostic, got:\n{}",
        SchemaError::Invalid(all.clone())
    );
    let diagnostic = all.into_iter().next().unwrap();
    assert_eq!(
        diagnostic.location(),
        format!("{FILE}:{expected_location}"),
        "{diagnostic}"
    );
    assert!(
        diagnostic.message.contains(expected_message_fragment),
        "message {:?} does not contain {expected_message_fragment:?}",
        diagnostic.message
    );
    let first = diagnostic.message.chars().next().unwrap();
    assert!(!first.is_uppercase(), "{diagnostic}");
    assert!(!diagnostic.message.ends_with('.'), "{diagnostic}");
    diagnostic
}

/// `check_error` for a body appended to [`HEADER`].
fn check_body_error(body: &str, expected_location: &str, fragment: &str) -> Diagnostic {
    check_error(&format!("{HEADER}{body}"), expected_location, fragment)
}

fn help(diagnostic: &Diagnostic) -> &str {
    diagnostic.help.as_deref().expect("a help line")
}

fn parse_body(body: &str) -> Schema {
    match parse_str(FILE, &format!("{HEADER}{body}")) {
        Ok(schema) => schema,
        Err(error) => panic!("unexpected error:\n{error}"),
    }
}

/// A writable table `t` with a serial primary key `id` and one more column.
fn table_with_column(column_lines: &str) -> String {
    format!(
        "[[table]]\nname = \"t\"\n[[table.column]]\nname = \"id\"\ntype = \"serial\"\n\
         primary_key = true\n[[table.column]]\n{column_lines}"
    )
}
// Lines of `table_with_column`: 7 [[table]], 8 name, 9 [[table.column]], 10 name,
// 11 type, 12 primary_key, 13 [[table.column]], 14.. the given lines.

// ---------------------------------------------------------------------------
// Display format

#[test]
fn display_format_of_one_diagnostic() {
    let error = parse_str(
        FILE,
        &format!(
            "{HEADER}{}",
            table_with_column("name = \"x\"\ntype = \"integr\"\n")
        ),
    )
    .unwrap_err();
    let text = error.to_string();
    let expected = "error: unknown column type `integr`\n  --> test.toml:15:8\n  = help: supported types are smallint, integer, bigint, serial, bigserial, boolean, real, double, numeric(P, S) with 1 <= P <= 1000 and 0 <= S <= P, text, varchar(N) with 1 <= N <= 10485760, date, time, timestamp, timestamptz, uuid, json and bytes";
    assert_eq!(text, expected);
}

#[test]
fn display_without_help_and_several_diagnostics() {
    let diagnostic = Diagnostic {
        file: "a/b.toml".to_owned(),
        line: 3,
        column: 5,
        message: "something is wrong".to_owned(),
        help: None,
    };
    assert_eq!(
        diagnostic.to_string(),
        "error: something is wrong\n  --> a/b.toml:3:5"
    );
    let error = SchemaError::Invalid(vec![diagnostic.clone(), diagnostic]);
    assert_eq!(
        error.to_string(),
        "error: something is wrong\n  --> a/b.toml:3:5\n\nerror: something is wrong\n  --> a/b.toml:3:5"
    );
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let body = "[[table]]\nname = \"t\"\n[[table.column]]\nname = \"a\"\ntype = \"nope\"\n\
                [[table.column]]\nname = \"b\"\ntype = \"integer\"\ndefault = \"x\"\n";
    let all = diagnostics(&format!("{HEADER}{body}"));
    let summary: Vec<(String, &str)> = all
        .iter()
        .map(|d| (d.location(), d.message.split(' ').next().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("test.toml:8:8".to_owned(), "table"),
            ("test.toml:11:8".to_owned(), "unknown"),
            ("test.toml:15:11".to_owned(), "unsupported"),
        ]
    );
    assert!(all[0].message.contains("has no primary key"));
}

#[test]
fn unreadable_file_is_an_io_error() {
    let error = tenantapi_schema::load_file(std::path::Path::new("no/such/file.toml")).unwrap_err();
    assert!(matches!(error, SchemaError::Io { .. }));
    assert!(error.diagnostics().is_empty());
    assert!(
        error
            .to_string()
            .starts_with("error: cannot read `no/such/file.toml`: "),
        "{error}"
    );
}

#[test]
fn columns_are_counted_in_characters() {
    let source = "version = \"1\" # é è\nversion_source = { table = \"v\", column = \"n\" }\n\
                  [[table]]\nname = \"v\"\nread_only = true\n\
                  column = [{ doc = \"ééé\", name = \"1x\", type = \"text\" }, { name = \"n\", type = \"text\" }]\n";
    // In bytes the name would be at column 36.
    check_error(source, "6:33", "column name `1x` starts with a digit");
}

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
        "`varchar` needs a maximum length",
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

// ---------------------------------------------------------------------------
// 3. foreign keys

#[test]
fn reference_to_missing_table() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\nreferences = \"nope.id\"\n"),
        "16:14",
        "column `t.x` references the table `nope`, which is not described in this file",
    );
    assert!(help(&diagnostic).contains("[[table]]"));
}

#[test]
fn reference_to_missing_column() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\nreferences = \"t.nope\"\n"),
        "16:14",
        "column `t.x` references `t.nope`, but table `t` has no column `nope`",
    );
    assert_eq!(help(&diagnostic), "columns of `t` are `id`, `x`");
}

#[test]
fn malformed_reference() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\nreferences = \"t\"\n"),
        "16:14",
        "malformed reference `t` on column `t.x`",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\nreferences = \"a.b.c\"\n"),
        "16:14",
        "malformed reference `a.b.c`",
    );
}

#[test]
fn reference_to_a_column_that_is_not_a_key() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nreferences = \"v.n\"\n"),
        "16:14",
        "column `t.x` references `v.n`, which is neither a single-column primary key nor unique",
    );
}

#[test]
fn reference_to_a_unique_column_is_allowed() {
    let body = table_with_column(
        "name = \"code\"\ntype = \"varchar(8)\"\nunique = true\n\
         [[table.column]]\nname = \"parent_code\"\ntype = \"varchar(16)\"\nnullable = true\n\
         references = \"t.code\"\non_delete = \"set_null\"\n",
    );
    let schema = parse_body(&body);
    let foreign_key = &schema.tables[1].foreign_keys[0];
    assert_eq!(
        (
            foreign_key.column,
            foreign_key.references_table,
            foreign_key.references_column
        ),
        (2, 1, 1)
    );
}

#[test]
fn reference_type_mismatch() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nreferences = \"t.id\"\n"),
        "16:14",
        "column `t.x` of type `text` references `t.id` of type `serial`",
    );
    assert!(help(&diagnostic).contains("same type"));
}

#[test]
fn integer_types_are_compatible() {
    let schema = parse_body(&table_with_column(
        "name = \"x\"\ntype = \"bigint\"\nreferences = \"t.id\"\n",
    ));
    assert_eq!(schema.tables[1].foreign_keys.len(), 1);
}

#[test]
fn set_null_on_non_nullable_column() {
    let diagnostic = check_body_error(
        &table_with_column(
            "name = \"x\"\ntype = \"integer\"\nreferences = \"t.id\"\non_delete = \"set_null\"\n",
        ),
        "17:13",
        "`on_delete = \"set_null\"` on column `x` of table `t`, which is not nullable",
    );
    assert!(help(&diagnostic).contains("nullable = true"));
}

#[test]
fn on_delete_without_references() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\non_delete = \"cascade\"\n"),
        "16:13",
        "`on_delete` on column `x` of table `t`, which has no `references`",
    );
}

#[test]
fn unknown_on_delete_action() {
    let diagnostic = check_body_error(
        &table_with_column(
            "name = \"x\"\ntype = \"integer\"\nreferences = \"t.id\"\non_delete = \"delete\"\n",
        ),
        "17:13",
        "unknown `on_delete` action `delete` on column `x`",
    );
    assert!(help(&diagnostic).contains("\"set_null\""));
}

// ---------------------------------------------------------------------------
// 4. primary keys

#[test]
fn missing_primary_key() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"t\"\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n",
        "8:8",
        "table `t` has no primary key",
    );
    let help = help(&diagnostic);
    assert!(help.contains("primary_key = true"));
    assert!(help.contains("primary_key = [\"a\", \"b\"]"));
    assert!(help.contains("read_only = true"));
}

#[test]
fn nullable_primary_key() {
    check_body_error(
        "[[table]]\nname = \"t\"\n[[table.column]]\nname = \"a\"\ntype = \"text\"\n\
         primary_key = true\nnullable = true\n",
        "13:12",
        "primary key column `a` of table `t` is nullable",
    );
}

#[test]
fn primary_key_naming_a_missing_column() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"t\"\nprimary_key = [\"a\", \"b\"]\n[[table.column]]\nname = \"a\"\n\
         type = \"text\"\n",
        "9:21",
        "`primary_key` of table `t` names the column `b`, which the table does not have",
    );
    assert_eq!(help(&diagnostic), "columns of `t` are `a`");
}

#[test]
fn both_forms_of_primary_key() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"t\"\nprimary_key = [\"a\"]\n[[table.column]]\nname = \"a\"\n\
         type = \"text\"\nprimary_key = true\n",
        "9:15",
        "table `t` declares its primary key twice",
    );
    assert!(help(&diagnostic).contains("keep only one"));
}

#[test]
fn read_only_tables_need_no_primary_key() {
    let schema = parse_body(
        "[[table]]\nname = \"report\"\nread_only = true\n[[table.column]]\nname = \"a\"\n\
         type = \"text\"\n",
    );
    assert!(schema.tables[1].primary_key.is_empty());
}

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
        &table_with_column("name = \"a b\"\ntype = \"text\"\n"),
        "14:8",
        "column name `a b` contains the character ' '",
    );
    assert!(help(&diagnostic).contains("ASCII letters, digits"));
}

#[test]
fn sql_name_starting_with_a_digit() {
    check_body_error(
        &table_with_column("name = \"1st\"\ntype = \"text\"\n"),
        "14:8",
        "column name `1st` starts with a digit",
    );
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

// ---------------------------------------------------------------------------
// 7. unknown keys

#[test]
fn unknown_top_level_key() {
    let diagnostic = check_error(
        &format!("version = \"1\"\nversoin_source = 2\n{}", &HEADER[14..]),
        "2:1",
        "unknown key `versoin_source`",
    );
    assert_eq!(
        help(&diagnostic),
        "allowed keys here are `version`, `version_source`, `table`"
    );
}

#[test]
fn unknown_table_key() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"t\"\nreadonly = true\n",
        "9:1",
        "unknown key `readonly`",
    );
    assert!(help(&diagnostic).contains("`read_only`"));
}

#[test]
fn unknown_column_key() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nnull = true\n"),
        "16:1",
        "unknown key `null`",
    );
    assert!(help(&diagnostic).contains("`nullable`"));
}

#[test]
fn toml_syntax_error() {
    check_error("version = \"1\"\n[[table]\n", "2:9", "unclosed");
}

#[test]
fn wrongly_typed_value() {
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\nnullable = \"yes\"\n"),
        "16:12",
        "invalid type: string \"yes\", expected a boolean",
    );
}

// ---------------------------------------------------------------------------
// other structure errors

#[test]
fn unique_naming_a_missing_column() {
    check_body_error(
        "[[table]]\nname = \"t\"\nunique = [[\"id\", \"nope\"]]\n[[table.column]]\nname = \"id\"\n\
         type = \"serial\"\nprimary_key = true\n",
        "9:18",
        "`unique` of table `t` names the column `nope`, which the table does not have",
    );
}

#[test]
fn unique_sets_are_deduplicated() {
    let schema = parse_body(
        "[[table]]\nname = \"t\"\nunique = [[\"a\", \"b\"], [\"b\", \"a\"], [\"id\"], [\"a\"]]\n\
         [[table.column]]\nname = \"id\"\ntype = \"serial\"\nprimary_key = true\nunique = true\n\
         [[table.column]]\nname = \"a\"\ntype = \"text\"\nunique = true\n\
         [[table.column]]\nname = \"b\"\ntype = \"text\"\n",
    );
    assert_eq!(schema.tables[1].unique, [vec![1], vec![1, 2]]);
}

#[test]
fn version_source_naming_a_missing_table() {
    let source = "version = \"1\"\nversion_source = { table = \"w\", column = \"n\" }\n[[table]]\n\
                  name = \"v\"\nread_only = true\ncolumn = [{ name = \"n\", type = \"text\" }]\n";
    check_error(
        source,
        "2:28",
        "`version_source` names the table `w`, which is not described in this file",
    );
}

#[test]
fn version_source_naming_a_missing_column() {
    let source = "version = \"1\"\nversion_source = { table = \"v\", column = \"m\" }\n[[table]]\n\
                  name = \"v\"\nread_only = true\ncolumn = [{ name = \"n\", type = \"text\" }]\n";
    let diagnostic = check_error(
        source,
        "2:42",
        "`version_source` names the column `m`, which table `v` does not have",
    );
    assert_eq!(help(&diagnostic), "columns of `v` are `n`");
}

#[test]
fn missing_version_source() {
    check_error(
        "version = \"1\"\n[[table]]\nname = \"v\"\nread_only = true\n\
         column = [{ name = \"n\", type = \"text\" }]\n",
        "1:1",
        "missing `[version_source]`",
    );
}

#[test]
fn empty_version() {
    let diagnostic = check_error(
        &format!("version = \"\"{}", &HEADER[13..]),
        "1:11",
        "`version` is empty",
    );
    assert!(help(&diagnostic).contains("2024.06.1"));
}

#[test]
fn missing_version() {
    check_error(&HEADER[14..], "1:1", "missing `version`");
}

#[test]
fn table_without_columns() {
    check_body_error(
        "[[table]]\nname = \"t\"\nread_only = true\n",
        "8:8",
        "table `t` has no columns",
    );
}

#[test]
fn table_without_name() {
    check_body_error(
        "[[table]]\nread_only = true\ncolumn = [{ name = \"n\", type = \"text\" }]\n",
        "7:1",
        "table without a `name`",
    );
}
