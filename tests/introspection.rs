//! Introspection of live databases on SQLite and PostgreSQL: drift detection reports each kind
//! of difference, and a description read back from a database built from the generated DDL
//! equals the one it was generated from.

use std::collections::BTreeSet;

use tenantapi_schema::model::{ColumnType, OnDelete, Schema, Table};
use tenantapi_server::introspect;
use tenantapi_testkit::{Backend, TestDatabase};

fn drift_of(database: &TestDatabase) -> Vec<String> {
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    introspect::drift(&live, tenantapi_generated::API.table_metas())
}

fn check_no_drift(backend: Backend) {
    let database = TestDatabase::new(backend);
    assert_eq!(drift_of(&database), Vec::<String>::new(), "{backend:?}");
}

#[test]
fn generated_ddl_has_no_drift_on_sqlite() {
    check_no_drift(Backend::Sqlite);
}

#[test]
fn generated_ddl_has_no_drift_on_postgres() {
    check_no_drift(Backend::Postgres);
}

fn assert_reports(drift: &[String], expected: &[&str]) {
    for line in expected {
        assert!(
            drift.iter().any(|found| found == line),
            "missing drift line {line:?} in {drift:#?}"
        );
    }
    assert_eq!(
        drift.len(),
        expected.len(),
        "unexpected drift lines: {drift:#?}"
    );
}

#[test]
fn every_drift_kind_is_reported_on_postgres() {
    let database = TestDatabase::postgres();
    database.execute(
        "ALTER TABLE data_point ALTER COLUMN unit TYPE VARCHAR(40);
         UPDATE tag SET color = '#000000'; ALTER TABLE tag ALTER COLUMN color SET NOT NULL;
         ALTER TABLE site ALTER COLUMN name DROP NOT NULL;
         ALTER TABLE site DROP COLUMN latitude;
         ALTER TABLE site ADD COLUMN region TEXT;
         ALTER TABLE data_point DROP CONSTRAINT data_point_name_key;
         ALTER TABLE tag ADD CONSTRAINT tag_color_key UNIQUE (color);
         ALTER TABLE data_point_tag DROP CONSTRAINT data_point_tag_pkey; ALTER TABLE data_point_tag ADD PRIMARY KEY (tag_id, data_point_id);
         DROP TABLE \"maintenance-window\";
         CREATE TABLE stray (x INTEGER);
         ALTER TABLE data_point ALTER COLUMN type DROP DEFAULT;
         ALTER TABLE tag ALTER COLUMN label SET DEFAULT 'x';
         ALTER TABLE reading DROP CONSTRAINT reading_data_point_id_fkey;
         ALTER TABLE reading ADD FOREIGN KEY (data_point_id) REFERENCES data_point (id) ON DELETE RESTRICT;
         ALTER TABLE data_point DROP CONSTRAINT data_point_site_id_fkey;
         ALTER TYPE tag_kind ADD VALUE 'event';",
    );
    assert_reports(
        &drift_of(&database),
        &[
            "table data_point: column type: no default, expected one",
            "table tag: column label: has a default, expected none",
            "table reading: column data_point_id: references data_point.id on delete restrict, expected data_point.id on delete cascade",
            "table data_point: column site_id: missing foreign key to site.id",
            "table data_point: column unit: type character varying(40), expected varchar(20)",
            "table tag: column color: NOT NULL, expected nullable",
            "table site: column name: nullable, expected NOT NULL",
            "table site: missing column latitude",
            "table site: extra column region",
            "table data_point: missing unique (name)",
            "table tag: extra unique (color)",
            "table data_point_tag: primary key (tag_id, data_point_id), expected (data_point_id, tag_id)",
            "table tag: column kind: enum tag_kind (topic, place, person, event), expected enum tag_kind (topic, place, person)",
            "missing table maintenance-window",
            "extra table stray",
        ],
    );
}

#[test]
fn drift_is_reported_on_sqlite() {
    let database = TestDatabase::sqlite();
    database.execute(
        "ALTER TABLE site DROP COLUMN latitude;
         ALTER TABLE site ADD COLUMN region TEXT;
         DROP TABLE \"maintenance-window\";
         CREATE TABLE stray (x INTEGER);
         CREATE TABLE tag_new (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL UNIQUE, color VARCHAR(9), weight REAL NOT NULL DEFAULT 1.0, usage_count BIGINT NOT NULL DEFAULT 0,
           \"kind\" TEXT NOT NULL DEFAULT 'topic' CHECK (\"kind\" IN ('topic', 'place')));
         PRAGMA foreign_keys = OFF; DROP TABLE tag; ALTER TABLE tag_new RENAME TO tag;",
    );
    assert_reports(
        &drift_of(&database),
        &[
            "table site: missing column latitude",
            "table site: extra column region",
            "table tag: column color: type VARCHAR(9), expected varchar(7)",
            "table tag: column kind: enum tag_kind (topic, place), expected enum tag_kind (topic, place, person)",
            "missing table maintenance-window",
            "extra table stray",
        ],
    );
}

/// What must survive a round trip: everything but docs and Rust names.
#[derive(Debug, PartialEq)]
struct Shape {
    name: String,
    read_only: bool,
    columns: Vec<(String, ColumnType, bool, Option<String>)>,
    primary_key: Vec<String>,
    unique: BTreeSet<BTreeSet<String>>,
    foreign_keys: BTreeSet<(String, String, String, String)>,
}

fn shape(schema: &Schema, table: &Table, backend: Backend) -> Shape {
    let column_name = |index: usize| table.columns[index].sql_name.clone();
    Shape {
        name: table.sql_name.clone(),
        read_only: table.read_only,
        columns: table
            .columns
            .iter()
            .map(|column| {
                // SQLite keeps no difference between serial and bigserial keys (both are its
                // 64-bit rowid): the description reads back `serial`.
                let ty = match (backend, column.ty) {
                    (Backend::Sqlite, ColumnType::BigSerial) => ColumnType::Serial,
                    (_, ty) => ty,
                };
                (
                    column.sql_name.clone(),
                    ty,
                    column.nullable,
                    column
                        .default
                        .as_ref()
                        .map(|default| format!("{default:?}")),
                )
            })
            .collect(),
        primary_key: table
            .primary_key
            .iter()
            .map(|&index| column_name(index))
            .collect(),
        unique: table
            .unique
            .iter()
            .map(|set| set.iter().map(|&index| column_name(index)).collect())
            .collect(),
        foreign_keys: table
            .foreign_keys
            .iter()
            .map(|key| {
                let referenced = &schema.tables[key.references_table];
                (
                    column_name(key.column),
                    referenced.sql_name.clone(),
                    referenced.columns[key.references_column].sql_name.clone(),
                    format!("{:?}", key.on_delete),
                )
            })
            .collect(),
    }
}

fn check_round_trip(backend: Backend) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let original = tenantapi_schema::load_file(&root.join("schema/project.toml")).unwrap();
    let database = TestDatabase::new(backend);
    let mut connection = database.connect();
    let live = introspect::live_structure(&mut connection, &[]).unwrap();
    let text = introspect::render_description(
        &live,
        tenantapi_generated::SCHEMA_VERSION,
        tenantapi_generated::VERSION_TABLE,
        tenantapi_generated::VERSION_COLUMN,
        None,
        false,
    )
    .unwrap()
    .text;
    let read_back =
        tenantapi_schema::parse_str("introspected.toml", &text).unwrap_or_else(|error| {
            panic!("the introspected description must be valid:\n{error}\n{text}")
        });
    assert_eq!(read_back.version, original.version);
    assert_eq!(read_back.version_source, original.version_source);
    let mut expected: Vec<Shape> = original
        .tables
        .iter()
        .map(|table| shape(&original, table, backend))
        .collect();
    let mut found: Vec<Shape> = read_back
        .tables
        .iter()
        .map(|table| shape(&read_back, table, Backend::Postgres))
        .collect();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        found, expected,
        "{backend:?} round trip; description:\n{text}"
    );
}

#[test]
fn description_round_trips_through_sqlite() {
    check_round_trip(Backend::Sqlite);
}

#[test]
fn description_round_trips_through_postgres() {
    check_round_trip(Backend::Postgres);
}

/// A description read from a database made by another system.
fn described(database: &TestDatabase) -> String {
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    introspect::render_description(&live, "1", "v", "n", None, false)
        .unwrap()
        .text
}

fn parsed(text: &str) -> Schema {
    tenantapi_schema::parse_str("introspected.toml", text)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
}

/// Regression: `introspect` stopped at `NVARCHAR(160)`, the first column of a well-known sample
/// database; it also uses DATETIME, NUMERIC(10,2) and INTEGER keys without AUTOINCREMENT.
#[test]
fn sqlite_spellings_and_rowid_keys_of_other_systems_are_read() {
    let database = TestDatabase::empty(Backend::Sqlite);
    database.execute(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE artist (ArtistId INTEGER NOT NULL, Name NVARCHAR(120), CONSTRAINT pk PRIMARY KEY (ArtistId));
         CREATE TABLE invoice (InvoiceId INTEGER PRIMARY KEY, ArtistId INT NOT NULL REFERENCES artist (ArtistId),
           InvoiceDate DATETIME NOT NULL, Total NUMERIC(10,2) NOT NULL, Note CLOB, Flag BOOLEAN DEFAULT 0);",
    );
    let schema = parsed(&described(&database));
    let artist = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "artist")
        .unwrap();
    assert_eq!(
        artist.columns[0].ty,
        ColumnType::Serial,
        "an INTEGER PRIMARY KEY is the rowid"
    );
    assert_eq!(
        artist.columns[1].ty,
        ColumnType::Varchar { max_length: 120 }
    );
    let invoice = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "invoice")
        .unwrap();
    let types: Vec<ColumnType> = invoice.columns.iter().map(|column| column.ty).collect();
    assert_eq!(
        types,
        vec![
            ColumnType::Serial,
            ColumnType::Integer,
            ColumnType::Timestamp,
            ColumnType::Numeric {
                precision: 10,
                scale: 2
            },
            ColumnType::Text,
            ColumnType::Boolean,
        ]
    );
    assert_eq!(invoice.foreign_keys.len(), 1);
}

#[test]
fn postgres_identity_keys_sequences_and_domains_are_read() {
    let database = TestDatabase::empty(Backend::Postgres);
    database.execute(
        "CREATE TABLE v (n text NOT NULL);
         CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
         CREATE DOMAIN required_name AS varchar(40) NOT NULL;
         CREATE SEQUENCE film_id_seq;
         CREATE TABLE film (film_id integer DEFAULT nextval('film_id_seq'::regclass) PRIMARY KEY,
           title required_name, release_year year);
         CREATE TABLE actor (actor_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
         CREATE TABLE city (city_id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL);",
    );
    let schema = parsed(&described(&database));
    let table = |name: &str| {
        schema
            .tables
            .iter()
            .find(|table| table.sql_name == name)
            .unwrap()
    };
    let film = table("film");
    assert_eq!(
        film.columns[0].ty,
        ColumnType::Serial,
        "a key defaulting to nextval()"
    );
    assert_eq!(
        (film.columns[1].ty, film.columns[1].nullable),
        (ColumnType::Varchar { max_length: 40 }, false),
        "a domain is its base type with the domain's nullability"
    );
    assert_eq!(
        (film.columns[2].ty, film.columns[2].nullable),
        (ColumnType::Integer, true)
    );
    assert_eq!(
        table("actor").columns[0].ty,
        ColumnType::BigSerial,
        "GENERATED ALWAYS AS IDENTITY"
    );
    assert_eq!(
        table("city").columns[0].ty,
        ColumnType::Serial,
        "GENERATED BY DEFAULT AS IDENTITY"
    );
}

/// One exotic column must not block a table: every column of a type the format cannot express
/// is served read-only as the database's text form (`database_type`), each with a notice, or
/// with `--skip-unsupported` left out through `ignore_columns`, which drift then accepts.
#[test]
fn unsupported_columns_are_served_as_text_or_left_out() {
    let database = TestDatabase::empty(Backend::Postgres);
    database.execute(
        "CREATE TABLE v (n text NOT NULL);
         CREATE TABLE film (id serial PRIMARY KEY, title text NOT NULL, fulltext tsvector NOT NULL, spot point,
           grid integer[][], docs jsonb[]);",
    );
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let served = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    assert_eq!(
        served.notices,
        vec![
            "film.fulltext: tsvector — served read-only as its text form; leave it out with --skip-unsupported",
            "film.spot: point — served read-only as its text form; leave it out with --skip-unsupported",
            "film.grid: integer[] — served read-only as its text form; leave it out with --skip-unsupported",
            "film.docs: jsonb[] — served read-only as its text form; leave it out with --skip-unsupported",
        ]
    );
    let schema = parsed(&served.text);
    let film = &schema.tables[0];
    assert_eq!(film.sql_name, "film");
    let fulltext = film.column("fulltext").unwrap();
    assert_eq!(
        (
            fulltext.ty,
            fulltext.database_type.as_deref(),
            fulltext.is_read_only(),
            fulltext.nullable
        ),
        (ColumnType::Text, Some("tsvector"), true, false)
    );
    assert_eq!(
        film.column("spot").unwrap().database_type.as_deref(),
        Some("point")
    );

    let skipped = introspect::render_description(&live, "1", "v", "n", None, true).unwrap();
    assert!(
        skipped
            .text
            .contains("# ignored column fulltext: type tsvector has no description type"),
        "{}",
        skipped.text
    );
    let schema = parsed(&skipped.text);
    let film = &schema.tables[0];
    assert_eq!(
        film.ignored_columns,
        vec!["fulltext", "spot", "grid", "docs"]
    );
    assert_eq!(film.columns.len(), 2);
}

/// Views and materialized views are read-only tables; a partitioned table is one resource
/// whose partitions are skipped (and said so); a stored generated column cannot be written.
#[test]
fn postgres_views_partitions_and_generated_columns() {
    let database = TestDatabase::empty(Backend::Postgres);
    database.execute(
        "CREATE TABLE v (n text NOT NULL);
         CREATE TABLE payment (payment_id serial, paid_on date NOT NULL, amount numeric(5, 2) NOT NULL,
           PRIMARY KEY (payment_id, paid_on)) PARTITION BY RANGE (paid_on);
         CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         CREATE TABLE payment_rest PARTITION OF payment DEFAULT;
         CREATE VIEW big_payment AS SELECT payment_id, amount FROM payment WHERE amount > 100;
         CREATE MATERIALIZED VIEW payment_total AS SELECT paid_on, sum(amount)::numeric(10, 2) AS total FROM payment GROUP BY paid_on;
         CREATE TABLE person (id serial PRIMARY KEY, first text NOT NULL, last text NOT NULL,
           full_name text GENERATED ALWAYS AS (first || ' ' || last) STORED);",
    );
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let names: Vec<&str> = live.iter().map(|table| table.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["big_payment", "payment", "payment_total", "person", "v"]
    );
    let text = introspect::render_description(&live, "1", "v", "n", None, false)
        .unwrap()
        .text;
    assert!(
        text.contains("# partitioned: its 3 partition(s) are read and written through it"),
        "{text}"
    );
    let schema = parsed(&text);
    let table = |name: &str| {
        schema
            .tables
            .iter()
            .find(|table| table.sql_name == name)
            .unwrap()
    };
    assert!(table("big_payment").read_only && table("payment_total").read_only);
    assert!(text.contains("# a view: served read-only"), "{text}");
    assert!(
        text.contains("# a materialized view: served read-only"),
        "{text}"
    );
    let column_names = |table: &tenantapi_schema::model::Table| -> Vec<(String, bool)> {
        table
            .ordering
            .iter()
            .map(|&(index, descending)| (table.columns[index].sql_name.clone(), descending))
            .collect()
    };
    assert_eq!(
        column_names(table("big_payment")),
        vec![
            ("payment_id".to_string(), false),
            ("amount".to_string(), false)
        ],
        "a view without a key is ordered by all its columns"
    );
    assert_eq!(
        table("payment_total").columns[1].ty,
        ColumnType::Numeric {
            precision: 10,
            scale: 2
        },
        "a materialized view's columns come from the catalogs"
    );
    let payment = table("payment");
    assert!(!payment.read_only);
    assert_eq!(payment.primary_key.len(), 2);
    let full_name = table("person").column("full_name").unwrap();
    assert_eq!(
        full_name.generated.as_deref(),
        Some("((first || ' '::text) || last)"),
        "a stored generated column keeps its expression"
    );
    assert!(full_name.is_read_only() && full_name.default.is_none());
}

/// Issue 25: a sample database with `rental_id integer NOT NULL REFERENCES rental ON DELETE SET
/// NULL` (which the databases accept) was described faithfully and `gen` refused the
/// description; SQLite's `DEFAULT NULL` was no default to introspection but one to drift. Every
/// foreign-key action is described as the database holds it (with a notice where a delete will
/// fail), and a null default is no default, on both backends.
fn foreign_key_actions_and_null_defaults(backend: Backend) {
    let database = TestDatabase::empty(backend);
    database.execute(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE rental (rental_id INTEGER PRIMARY KEY, note TEXT DEFAULT NULL,
           code TEXT DEFAULT 'x');
         CREATE TABLE payment (payment_id INTEGER PRIMARY KEY,
           rental_id INTEGER NOT NULL REFERENCES rental (rental_id) ON DELETE SET NULL,
           fallback_id INTEGER DEFAULT 1 REFERENCES rental (rental_id) ON DELETE SET DEFAULT,
           kept_id INTEGER REFERENCES rental (rental_id) ON DELETE CASCADE,
           amount NUMERIC(5,2) DEFAULT NULL);",
    );
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let defaults: Vec<(String, Option<String>)> = live
        .iter()
        .flat_map(|table| &table.columns)
        .filter(|column| ["note", "code", "amount"].contains(&column.name.as_str()))
        .map(|column| (column.name.clone(), column.default.clone()))
        .collect();
    assert_eq!(
        defaults
            .iter()
            .filter(|(_, default)| default.is_some())
            .count(),
        1,
        "{backend:?}: only code has a default: {defaults:?}"
    );
    let introspection = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    // The description generates: it parses, validates and lowers.
    let schema = parsed(&introspection.text);
    let payment = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "payment")
        .unwrap();
    let actions: Vec<OnDelete> = payment
        .foreign_keys
        .iter()
        .map(|key| key.on_delete)
        .collect();
    assert_eq!(
        actions,
        vec![OnDelete::SetNull, OnDelete::SetDefault, OnDelete::Cascade],
        "{backend:?}:\n{}",
        introspection.text
    );
    assert!(
        introspection
            .notices
            .iter()
            .any(|notice| notice.contains("rental_id")
                && notice.contains("set_null")
                && notice.contains("may not be null")),
        "{backend:?}: {:?}",
        introspection.notices
    );
}

#[test]
fn foreign_key_actions_and_null_defaults_are_described_as_held_on_sqlite() {
    foreign_key_actions_and_null_defaults(Backend::Sqlite);
}

#[test]
fn foreign_key_actions_and_null_defaults_are_described_as_held_on_postgres() {
    foreign_key_actions_and_null_defaults(Backend::Postgres);
}

/// Issue 25: a table of 42 columns, wider than diesel's `table!` takes, is described whole
/// (it is read by position), on both backends.
fn wide_tables_are_described_whole(backend: Backend) {
    let database = TestDatabase::empty(backend);
    let columns: Vec<String> = (1..=40).map(|n| format!("c{n:02} INTEGER")).collect();
    database.execute(&format!(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE employees (id INTEGER PRIMARY KEY, {}, code TEXT UNIQUE);",
        columns.join(", ")
    ));
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let introspection = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    let schema = parsed(&introspection.text);
    let employees = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "employees")
        .unwrap();
    assert_eq!(employees.columns.len(), 42, "{backend:?}");
    assert!(employees.reads_by_position(), "{backend:?}");
    assert!(employees.ignored_columns.is_empty(), "{backend:?}");
}

#[test]
fn wide_tables_are_described_whole_on_sqlite() {
    wide_tables_are_described_whole(Backend::Sqlite);
}

#[test]
fn wide_tables_are_described_whole_on_postgres() {
    wide_tables_are_described_whole(Backend::Postgres);
}

/// Issue 25: a SQLite table wider than PostgreSQL allows (SQLite takes 2,000 columns) is
/// described so that it generates: the columns past 1,600 are left out (`ignore_columns`, with
/// a notice), its key and the columns other tables reference kept.
#[test]
fn sqlite_tables_wider_than_a_description_holds_are_described_to_generate() {
    let database = TestDatabase::empty(Backend::Sqlite);
    let width = tenantapi_schema::MAX_TABLE_COLUMNS + 8;
    let columns: Vec<String> = (1..=width)
        .map(|n| format!("c{n:04} INTEGER{}", if n == width { " UNIQUE" } else { "" }))
        .collect();
    database.execute(&format!(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE employees (id INTEGER PRIMARY KEY, {}, code TEXT UNIQUE);
         CREATE TABLE badge (id INTEGER PRIMARY KEY, holder INTEGER REFERENCES employees (c{width:04}));",
        columns.join(", ")
    ));
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let introspection = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    let schema = parsed(&introspection.text);
    let employees = schema
        .tables
        .iter()
        .find(|table| table.sql_name == "employees")
        .unwrap();
    let names: Vec<&str> = employees
        .columns
        .iter()
        .map(|column| column.sql_name.as_str())
        .collect();
    assert_eq!(names.len(), tenantapi_schema::MAX_TABLE_COLUMNS);
    let last = format!("c{width:04}");
    for kept in ["id", "code", last.as_str(), "c0001"] {
        assert!(names.contains(&kept), "{kept} kept");
    }
    let ignored: Vec<String> = employees.ignored_columns.clone();
    let expected: Vec<String> = (width - 10..width).map(|n| format!("c{n:04}")).collect();
    assert_eq!(ignored, expected);
    assert!(
        introspection
            .notices
            .iter()
            .any(|notice| notice.starts_with(&format!("employees: {} columns", width + 2))),
        "{:?}",
        introspection.notices
    );
}

/// Issue 25: SQL names whose derived Rust names meet (`Order ID` and `order_id`, tables `a-b`
/// and `a_b`) made a description `gen` refused; introspection now numbers the later one's
/// `rust_name`, on both backends.
fn names_that_derive_the_same_rust_name(backend: Backend) {
    let database = TestDatabase::empty(backend);
    database.execute(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE \"a-b\" (id INTEGER PRIMARY KEY, \"Order ID\" INTEGER, order_id INTEGER,
                               \"Größe\" TEXT, \"gr e\" TEXT);
         CREATE TABLE a_b (id INTEGER PRIMARY KEY);",
    );
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    let introspection = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    let schema = parsed(&introspection.text);
    let mut tables: Vec<&str> = schema.tables.iter().map(|t| t.rust_name.as_str()).collect();
    tables.sort_unstable();
    assert_eq!(tables, ["a_b", "a_b_2", "v"], "{backend:?}");
    let dashed = schema.tables.iter().find(|t| t.sql_name == "a-b").unwrap();
    let columns: Vec<&str> = dashed
        .columns
        .iter()
        .map(|c| c.rust_name.as_str())
        .collect();
    assert_eq!(
        columns,
        ["id", "order_id", "order_id_2", "gr_e", "gr_e_2"],
        "{backend:?}"
    );
}

#[test]
fn names_that_derive_the_same_rust_name_are_numbered_on_sqlite() {
    names_that_derive_the_same_rust_name(Backend::Sqlite);
}

#[test]
fn names_that_derive_the_same_rust_name_are_numbered_on_postgres() {
    names_that_derive_the_same_rust_name(Backend::Postgres);
}

/// Issue 25: tables of several PostgreSQL schemas are read together (the description's first
/// schema and the others named), each other schema's table with its schema; one name in two of
/// them cannot be served (statements name tables through the search path) and is reported.
#[test]
fn tables_of_several_postgres_schemas_are_read_together() {
    let database = TestDatabase::empty(Backend::Postgres);
    database.execute(
        "CREATE TABLE v (n TEXT NOT NULL);
         CREATE TABLE person (id INTEGER PRIMARY KEY);
         CREATE SCHEMA sales;
         CREATE TABLE sales.customer (id INTEGER PRIMARY KEY,
                                      person_id INTEGER REFERENCES public.person (id));
         CREATE SCHEMA other;
         CREATE TABLE other.person (id INTEGER PRIMARY KEY);",
    );
    let live = introspect::live_structure(&mut database.connect(), &["sales"]).unwrap();
    let found: Vec<(&str, Option<&str>)> = live
        .iter()
        .map(|table| (table.name.as_str(), table.schema.as_deref()))
        .collect();
    assert_eq!(
        found,
        [("customer", Some("sales")), ("person", None), ("v", None)]
    );
    let introspection = introspect::render_description(&live, "1", "v", "n", None, false).unwrap();
    let schema = parsed(&introspection.text);
    assert_eq!(schema.postgres_search_path(), ["public", "sales"]);
    let customer = schema
        .tables
        .iter()
        .find(|t| t.sql_name == "customer")
        .unwrap();
    assert_eq!(customer.foreign_keys.len(), 1, "{}", introspection.text);

    let error = introspect::live_structure(&mut database.connect(), &["sales", "other"])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("table person is in two of the schemas read (the first schema and other)"),
        "{error}"
    );
}
