//! Introspection of both samples writes the checked-in descriptions, and both match them.

use super::*;

/// `text` must equal the checked-in file `name` under `realworld/` (rewritten with
/// `UPDATE_SNAPSHOTS=1`).
fn assert_snapshot(name: &str, text: &str) {
    let path = sample_dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == text,
        "realworld/{name} is stale; run `UPDATE_SNAPSHOTS=1 cargo test -p tenantapi-tests --test \
         realworld`, then `cargo xtask gen`, and review the diff. Written now:\n{text}"
    );
}

/// Introspection writes the checked-in description from the PostgreSQL sample, without hand
/// edits: its schema, enum, domains, identity and sequence keys, arrays, citext, char(n), a
/// tsvector served as text (with a notice), a generated column, a partitioned table, a view and
/// a materialized view.
#[test]
fn introspecting_the_postgres_sample_writes_the_checked_in_description() {
    let database = sample(Backend::Postgres);
    let introspection = tenantapi_server::commands::introspect(
        &database.url,
        "schema_version",
        "version",
        &["store", "sales"],
        false,
    )
    .unwrap();
    assert_eq!(
        introspection.notices,
        vec![
            "film.fulltext: tsvector — served read-only as its text form; leave it out with \
             --skip-unsupported",
            "film_rate_total.total: numeric — served read-only as its text form; leave it out \
             with --skip-unsupported",
            "film_rate_total: a materialized view that holds no data yet (WITH NO DATA) — its \
             list answers 503 until the database runs REFRESH MATERIALIZED VIEW film_rate_total",
        ]
    );
    assert_snapshot("schema.toml", &introspection.text);
}

/// The SQLite sample (NVARCHAR, CHARACTER, DATETIME, NUMERIC(p,s), INTEGER keys without
/// AUTOINCREMENT, CHECK lists, COLLATE NOCASE, a generated column, a view) introspects into a
/// valid description, checked in as `sqlite.toml`.
#[test]
fn introspecting_the_sqlite_sample_writes_a_valid_description() {
    let database = sample(Backend::Sqlite);
    let introspection = tenantapi_server::commands::introspect(
        &database.url,
        "schema_version",
        "version",
        &[],
        false,
    )
    .unwrap();
    assert!(
        introspection.notices.is_empty(),
        "{:?}",
        introspection.notices
    );
    let schema = tenantapi_schema::parse_str("sqlite.toml", &introspection.text)
        .unwrap_or_else(|error| panic!("{error}\n{}", introspection.text));
    let film = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "film")
        .unwrap();
    let rating = film.column("rating").unwrap();
    assert_eq!(
        schema.enums[rating.enum_type.unwrap()].values,
        ["G", "PG", "PG-13", "R", "NC-17"]
    );
    assert_snapshot("sqlite.toml", &introspection.text);
}

/// What SQLite's introspection writes (`sqlite.toml`, Chinook's path) describes the API that is
/// built and served from the PostgreSQL one: the same tables, columns in the same order, keys,
/// foreign keys (the store <-> staff cycle, the self-reference, the smallint key: what decides
/// whether the generated crate compiles) and JSON kinds; only lists differ, which SQLite keeps
/// as text.
#[test]
fn the_sqlite_description_describes_the_served_api() {
    let text = std::fs::read_to_string(sample_dir().join("sqlite.toml")).unwrap();
    let schema = tenantapi_schema::parse_str("sqlite.toml", &text).unwrap();
    let mut tables: Vec<&str> = schema.tables.iter().map(|t| t.sql_name.as_str()).collect();
    let mut served: Vec<&str> = API.table_metas().map(|meta| meta.name).collect();
    tables.sort_unstable();
    served.sort_unstable();
    assert_eq!(tables, served);
    for table in &schema.tables {
        let meta = API.table(&table.sql_name).unwrap();
        let columns: Vec<&str> = table.columns.iter().map(|c| c.sql_name.as_str()).collect();
        let served: Vec<&str> = meta.columns.iter().map(|column| column.name).collect();
        assert_eq!(columns, served, "{}", table.sql_name);
        let key: Vec<&str> = table
            .primary_key_columns()
            .map(|c| c.sql_name.as_str())
            .collect();
        let served_key: Vec<&str> = meta.primary_key_columns().map(|c| c.name).collect();
        assert_eq!(key, served_key, "{}", table.sql_name);
        let references = |column: usize, table: &str, to: &str| format!("{column} -> {table}.{to}");
        let keys: Vec<String> = table
            .foreign_keys
            .iter()
            .map(|key| {
                let parent = &schema.tables[key.references_table];
                references(
                    key.column,
                    &parent.sql_name,
                    &parent.columns[key.references_column].sql_name,
                )
            })
            .collect();
        let served_keys: Vec<String> = meta
            .foreign_keys
            .iter()
            .map(|key| references(key.column, key.references_table, key.references_column))
            .collect();
        assert_eq!(keys, served_keys, "{}", table.sql_name);
        for (column, served) in table.columns.iter().zip(meta.columns) {
            if served.array {
                assert_eq!(
                    column.ty,
                    ColumnType::Text,
                    "{}.{}",
                    table.sql_name,
                    column.sql_name
                );
            } else {
                assert_eq!(
                    column.ty.kind(),
                    served.kind,
                    "{}.{}",
                    table.sql_name,
                    column.sql_name
                );
            }
        }
    }
}

/// Both samples are what the description says: `check --structure` finds no drift (a domain
/// over the right type, lists and text forms in SQLite TEXT, views without NOT NULL).
#[test]
fn both_samples_match_the_description() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let database = sample(backend);
        let live = introspect::live_structure(
            &mut database.connect(),
            API.postgres_search_path.get(1..).unwrap_or_default(),
        )
        .unwrap();
        assert_eq!(
            introspect::drift(&live, API.table_metas()),
            Vec::<String>::new(),
            "{backend:?}"
        );
    }
}
