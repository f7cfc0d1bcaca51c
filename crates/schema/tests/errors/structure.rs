//! Unknown keys and other structure errors.

use super::*;

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
        "allowed keys here are `version`, `version_source`, `postgres_schema`, `enum`, `table`"
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

#[test]
fn a_column_both_described_and_ignored() {
    let diagnostic = check_body_error(
        "[[table]]\nname = \"t\"\nignore_columns = [\"id\"]\n[[table.column]]\nname = \"id\"\n\
         type = \"serial\"\nprimary_key = true\n",
        "9:19",
        "table `t` both describes and ignores the column `id`",
    );
    assert!(help(&diagnostic).contains("ignore_columns"));
}

#[test]
fn an_ignored_column_named_twice() {
    check_body_error(
        "[[table]]\nname = \"t\"\nignore_columns = [\"a\", \"a\"]\n[[table.column]]\nname = \"id\"\n\
         type = \"serial\"\nprimary_key = true\n",
        "9:24",
        "`ignore_columns` of table `t` names `a` twice",
    );
}

#[test]
fn ignored_columns_are_kept_in_the_model() {
    let schema = parse_body(
        "[[table]]\nname = \"t\"\nignore_columns = [\"fts\", \"geo\"]\n[[table.column]]\nname = \"id\"\n\
         type = \"serial\"\nprimary_key = true\n",
    );
    assert_eq!(schema.tables[1].ignored_columns, vec!["fts", "geo"]);
}

/// Issue 25: a sample database's `employees` table of 18 columns passed `gen` and failed in
/// rustc ("table contains more than 16 columns"); tables of any width PostgreSQL accepts are
/// served now (past 32 columns read by position), and `gen` names a wider one at the table,
/// with what to do.
#[test]
fn a_table_wider_than_postgresql_holds_is_reported_at_its_line() {
    let diagnostic = check_body_error(
        &employees_of_width(1_602),
        "8:8",
        "table `employees` has 1602 columns; PostgreSQL holds at most 1600 in a table",
    );
    assert!(help(&diagnostic).contains("leave at least 2 of its columns out"));
    assert!(help(&diagnostic).contains("ignore_columns"));
    for width in [32, 33, 400, 1_600] {
        let table = &parse_body(&employees_of_width(width)).tables[1];
        assert_eq!(table.columns.len(), width);
        assert_eq!(table.reads_by_position(), width > 32, "{width}");
    }
}

/// A table `employees` of `width` integer columns, the first its key.
fn employees_of_width(width: usize) -> String {
    let mut body = String::from("[[table]]\nname = \"employees\"\n");
    for index in 0..width {
        let key = if index == 0 {
            "primary_key = true\n"
        } else {
            ""
        };
        body.push_str(&format!(
            "[[table.column]]\nname = \"c{index}\"\ntype = \"integer\"\n{key}"
        ));
    }
    body
}
