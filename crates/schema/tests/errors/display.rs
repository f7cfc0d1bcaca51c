//! How diagnostics read: location, message, help; all of a file's problems at once.

use super::*;

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
    let expected = "error: unknown column type `integr`\n  --> test.toml:15:8\n  = help: supported types are smallint, integer, bigint, serial, bigserial, boolean, real, double, numeric(P, S) with 1 <= P <= 1000 and 0 <= S <= P, text, varchar(N) and char(N) with 1 <= N <= 10485760, citext, date, time, timestamp, timestamptz, uuid, json and bytes, or the name of an `[[enum]]`; `[]` after any of them but serial, bigserial, json and bytes makes a list (`text[]`)";
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
                  column = [{ doc = \"ééé\", name = \"x\", type = \"integr\" }, { name = \"n\", type = \"text\" }]\n";
    // In bytes the type would be at column 48.
    check_error(source, "6:45", "unknown column type `integr`");
}
