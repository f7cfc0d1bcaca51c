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

mod defaults;
mod display;
mod foreign_keys;
mod identifiers;
mod primary_keys;
mod real_world;
mod structure;
mod types_and_duplicates;
