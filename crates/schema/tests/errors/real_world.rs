//! The keys real-world schemas need (lists, generated and read-only columns, text forms,
//! domains, `ordering`, `postgres_schema`): what they accept and how misuse is reported.

use super::*;

#[test]
fn lists_of_scalars_and_enums_are_accepted() {
    let schema = parse_body(
        "[[enum]]\nname = \"kind\"\nvalues = [\"a\", \"b\"]\n\
         [[table]]\nname = \"t\"\n\
         [[table.column]]\nname = \"id\"\ntype = \"serial\"\nprimary_key = true\n\
         [[table.column]]\nname = \"tags\"\ntype = \"varchar(20)[]\"\ndefault = []\n\
         [[table.column]]\nname = \"kinds\"\ntype = \"kind[]\"\nnullable = true\n",
    );
    let table = &schema.tables[1];
    let tags = table.column("tags").unwrap();
    assert!(tags.array);
    assert_eq!(tags.ty, ColumnType::Varchar { max_length: 20 });
    assert_eq!(tags.default, Some(DefaultValue::EmptyList));
    let kinds = table.column("kinds").unwrap();
    assert!(kinds.array && kinds.enum_type == Some(0));
    assert_eq!(kinds.type_spelling(&schema.enums), "kind[]");
}

#[test]
fn lists_of_json_are_refused() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"json[]\"\n"),
        "15:8",
        "column `x` of table `t`: lists of `json` are not supported",
    );
    assert!(help(&diagnostic).contains("a `json` column holds lists"));
}

#[test]
fn a_list_default_other_than_the_empty_list() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text[]\"\ndefault = [\"a\"]\n"),
        "16:11",
        "unsupported default for the list column `x`",
    );
    assert!(help(&diagnostic).contains("`default = []`"));
}

#[test]
fn a_list_cannot_be_a_key_or_reference() {
    check_body_error(
        "[[table]]\nname = \"t\"\nprimary_key = [\"x\"]\n\
         [[table.column]]\nname = \"x\"\ntype = \"integer[]\"\n",
        "8:8",
        "primary key column `x` of table `t` is a list",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer[]\"\nreferences = \"t.id\"\n"),
        "16:14",
        "column `t.x` references `t.id`, and one of them is a list",
    );
}

#[test]
fn char_and_citext() {
    let schema = parse_body(&table_with_column(
        "name = \"code\"\ntype = \"char(2)\"\ndefault = \"US\"\n\
         [[table.column]]\nname = \"email\"\ntype = \"citext\"\n",
    ));
    let table = &schema.tables[1];
    assert_eq!(
        table.column("code").unwrap().ty,
        ColumnType::Char { length: 2 }
    );
    assert_eq!(table.column("email").unwrap().ty, ColumnType::Citext);
    check_body_error(
        &table_with_column("name = \"code\"\ntype = \"char(2)\"\ndefault = \"USA\"\n"),
        "16:11",
        "unsupported default `\"USA\"` for column `code` of type `char(2)`",
    );
}

#[test]
fn generated_and_read_only_columns() {
    let schema = parse_body(&table_with_column(
        "name = \"full\"\ntype = \"text\"\nnullable = true\ngenerated = \"a || b\"\n\
         [[table.column]]\nname = \"fts\"\ntype = \"text\"\nread_only = true\n\
         database_type = \"tsvector\"\n\
         [[table.column]]\nname = \"kept\"\ntype = \"integer\"\nread_only = true\n",
    ));
    let table = &schema.tables[1];
    assert!(
        table
            .columns
            .iter()
            .skip(1)
            .all(|column| column.is_read_only())
    );
    assert_eq!(
        table.column("full").unwrap().generated.as_deref(),
        Some("a || b")
    );
    assert_eq!(
        table.column("fts").unwrap().database_type.as_deref(),
        Some("tsvector")
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ngenerated = \"1\"\ndefault = 1\n"),
        "16:13",
        "column `x` of table `t` has both `generated` and `default`",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\ngenerated = \" \"\n"),
        "16:13",
        "`generated` of column `x` of table `t` is empty",
    );
}

#[test]
fn a_database_type_needs_a_read_only_text_column() {
    let diagnostic = check_body_error(
        &table_with_column("name = \"x\"\ntype = \"integer\"\ndatabase_type = \"tsvector\"\n"),
        "16:17",
        "column `x` of table `t` has a `database_type` but a type other than `text`",
    );
    assert!(help(&diagnostic).contains("set `type = \"text\"`"));
    check_body_error(
        &table_with_column(
            "name = \"x\"\ntype = \"text\"\nread_only = false\ndatabase_type = \"point\"\n",
        ),
        "17:17",
        "has a `database_type` and `read_only = false`",
    );
    check_body_error(
        &table_with_column("name = \"x\"\ntype = \"text\"\ndatabase_type = \"a;b\"\n"),
        "16:17",
        "`database_type` of column `x` of table `t` is not a type name",
    );
}

#[test]
fn ordering_names_existing_orderable_columns() {
    let schema = parse_body(
        "[[table]]\nname = \"view\"\nread_only = true\nordering = [\"-b\", \"a\"]\n\
         column = [{ name = \"a\", type = \"integer\" }, { name = \"b\", type = \"text\" }]\n",
    );
    assert_eq!(schema.tables[1].ordering, vec![(1, true), (0, false)]);
    let diagnostic = check_body_error(
        "[[table]]\nname = \"view\"\nread_only = true\nordering = [\"c\"]\n\
         column = [{ name = \"a\", type = \"integer\" }]\n",
        "10:13",
        "`ordering` of table `view` names the column `c`, which the table does not have",
    );
    assert!(help(&diagnostic).contains("`a`"));
    check_body_error(
        "[[table]]\nname = \"view\"\nread_only = true\nordering = [\"doc\"]\n\
         column = [{ name = \"doc\", type = \"json\" }]\n",
        "10:13",
        "`ordering` of table `view` names the column `doc`, whose values have no order",
    );
}

#[test]
fn postgres_schema_and_domains() {
    let schema = parse_str(
        FILE,
        &format!(
            "postgres_schema = \"store\"\n{HEADER}{}",
            table_with_column("name = \"year\"\ntype = \"integer\"\ndomain = \"year\"\n")
        ),
    )
    .unwrap();
    assert_eq!(schema.postgres_schema.as_deref(), Some("store"));
    assert_eq!(
        schema.tables[1].column("year").unwrap().domain.as_deref(),
        Some("year")
    );
    let public = parse_str(FILE, &format!("postgres_schema = \"public\"\n{HEADER}")).unwrap();
    assert_eq!(public.postgres_schema, None, "public is the default");
}

/// Issue 25: tables in several PostgreSQL schemas of one database (`sales.invoice` beside the
/// description's `store`): a table's own `postgres_schema`, on the search path in description
/// order; the description's own schema said again is no schema of the table's own.
#[test]
fn tables_in_several_postgres_schemas() {
    let table = |name: &str, schema: &str| {
        format!(
            "[[table]]\nname = \"{name}\"\npostgres_schema = \"{schema}\"\n[[table.column]]\n\
             name = \"id\"\ntype = \"serial\"\nprimary_key = true\n"
        )
    };
    let schema = parse_str(
        FILE,
        &format!(
            "postgres_schema = \"store\"\n{HEADER}{}{}{}{}",
            table("invoice", "sales"),
            table("person", "person"),
            table("refund", "sales"),
            table("film", "store"),
        ),
    )
    .unwrap();
    let own: Vec<Option<&str>> = schema
        .tables
        .iter()
        .map(|table| table.postgres_schema.as_deref())
        .collect();
    assert_eq!(
        own,
        [None, Some("sales"), Some("person"), Some("sales"), None]
    );
    assert_eq!(schema.postgres_search_path(), ["store", "sales", "person"]);

    let in_public = parse_str(FILE, &format!("{HEADER}{}", table("invoice", "sales"))).unwrap();
    assert_eq!(in_public.postgres_search_path(), ["public", "sales"]);
    let all_public = parse_str(FILE, HEADER).unwrap();
    assert!(all_public.postgres_search_path().is_empty());

    // (A proper noun: the one message that starts with a capital.)
    let empty = diagnostics(&format!("{HEADER}{}", table("invoice", "")));
    assert_eq!(empty.len(), 1, "{empty:?}");
    assert_eq!(empty[0].location(), format!("{FILE}:9:19"));
    assert_eq!(empty[0].message, "PostgreSQL schema name is empty");
}

/// Two tables for search: `site` (line 7) and `point` (line 10), whose `search` is `search`.
fn searching(search: &str) -> String {
    format!(
        "[[table]]\nname = \"site\"\n\
         column = [{{ name = \"id\", type = \"serial\", primary_key = true }}, {{ name = \"code\", type = \"text\" }}, {{ name = \"name\", type = \"text\" }}, {{ name = \"size\", type = \"integer\" }}]\n\
         [[table]]\nname = \"point\"\nsearch = {search}\n\
         column = [{{ name = \"id\", type = \"serial\", primary_key = true }}, {{ name = \"label\", type = \"text\" }}, {{ name = \"site_id\", type = \"integer\", references = \"site.id\" }}, {{ name = \"size_hint\", type = \"integer\" }}]\n"
    )
}

#[test]
fn search_names_searchable_fields_of_the_table_or_a_referenced_row() {
    use tenantapi_schema::model::{SearchField, SearchMode};
    let schema = parse_body(&searching(
        r#"["label", "^site.name", "=size_hint", "@label", "=site.code"]"#,
    ));
    let point = &schema.tables[2];
    assert_eq!(
        point.search,
        vec![
            SearchField {
                mode: SearchMode::Contains,
                via: None,
                column: 1
            },
            SearchField {
                mode: SearchMode::StartsWith,
                via: Some(0),
                column: 2
            },
            SearchField {
                mode: SearchMode::Exact,
                via: None,
                column: 3
            },
            SearchField {
                mode: SearchMode::FullText,
                via: None,
                column: 1
            },
            SearchField {
                mode: SearchMode::Exact,
                via: Some(0),
                column: 1
            },
        ]
    );
    let written: Vec<String> = point
        .search
        .iter()
        .map(|field| schema.search_field_text(point, field))
        .collect();
    assert_eq!(
        written,
        ["label", "^site.name", "=size_hint", "@label", "=site.code"]
    );

    // Line 12 is `search = [...]`; its first string starts at column 11.
    let diagnostic = check_body_error(
        &searching(r#"["size_hint"]"#),
        "12:11",
        "`search` of table `point` names `size_hint`: `size_hint` is integer, which a search that is contains cannot match",
    );
    assert!(help(&diagnostic).contains("`=size_hint`"), "{diagnostic}");
    let diagnostic = check_body_error(
        &searching(r#"["site.nope"]"#),
        "12:11",
        "names the column `nope`, which `site` does not have",
    );
    assert!(help(&diagnostic).contains("`code`"));
    let diagnostic = check_body_error(
        &searching(r#"["place.name"]"#),
        "12:11",
        "names the relation `place`, which the table does not have",
    );
    assert!(help(&diagnostic).contains("site"));
    check_body_error(
        &searching(r#"["site.site.name"]"#),
        "12:11",
        "more than one relation deep",
    );
    check_body_error(
        &searching(r#"["label", "label"]"#),
        "12:20",
        "names `label` twice",
    );
    check_body_error(
        &searching("[]"),
        "12:10",
        "`search` of table `point` is empty",
    );
}
