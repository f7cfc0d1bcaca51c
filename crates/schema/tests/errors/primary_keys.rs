//! Primary keys, single and composite.

use super::*;

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
