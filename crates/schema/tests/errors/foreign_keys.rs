//! `references` and `on_delete`.

use super::*;

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

/// Issue 25: introspection wrote `set_null` on a NOT NULL column (Pagila's
/// `payment.rental_id`, as PostgreSQL accepted it) and `gen` refused its own output; the
/// description says what the database holds.
#[test]
fn set_null_and_set_default_on_a_column_that_may_not_be_null_are_what_the_database_holds() {
    use tenantapi_schema::model::OnDelete;
    for (word, action) in [
        ("set_null", OnDelete::SetNull),
        ("set_default", OnDelete::SetDefault),
    ] {
        let schema = parse_body(&table_with_column(&format!(
            "name = \"x\"\ntype = \"integer\"\nreferences = \"t.id\"\non_delete = \"{word}\"\n"
        )));
        assert_eq!(schema.tables[1].foreign_keys[0].on_delete, action, "{word}");
    }
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
    assert!(help(&diagnostic).contains("\"set_default\""));
}
