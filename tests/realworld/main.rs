//! The real-world sample end to end: a store database created by another system's own SQL
//! (`realworld/postgres.sql`, `realworld/sqlite.sql`), introspected into the checked-in
//! description (`realworld/schema.toml`), generated into the checked-in crate
//! (`realworld/generated`, kept fresh by `cargo xtask gen --check`), and served: every table's
//! rows equal the database's own, filters, writes and their errors, on both backends where the
//! construct exists.
//!
//! After an intended change of what introspection writes: `UPDATE_SNAPSHOTS=1 cargo test -p
//! tenantapi-tests --test realworld`, then `cargo xtask gen`, and review the diff.

use std::path::{Path, PathBuf};

use diesel::RunQueryDsl as _;
use serde_json::{Value, json};
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::data::meta::{ColumnKind, ColumnMeta, TableMeta};
use tenantapi_schema::model::ColumnType;
use tenantapi_server::introspect;
use tenantapi_testkit::{Backend, Reply, TestDatabase, TestKit, on_both_backends};

static API: &GeneratedApi = &tenantapi_realworld::API;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("realworld")
}

/// A database holding the sample, created by the foreign system's SQL for `backend`.
fn sample(backend: Backend) -> TestDatabase {
    let script = match backend {
        Backend::Postgres => "postgres.sql",
        Backend::Sqlite => "sqlite.sql",
    };
    let sql = std::fs::read_to_string(sample_dir().join(script)).unwrap();
    let database = TestDatabase::empty_for(API, backend);
    database.execute(&sql);
    database
}

fn kit(database: &TestDatabase) -> TestKit {
    TestKit::builder(database.backend)
        .api(API)
        .external_project("store", &database.url)
        .superuser("admin")
        .build()
        .expect("test kit")
}

macro_rules! call {
    ($kit:expr, $service:expr, $method:expr, $path:expr) => {
        $kit.call(&$service, $method, $path, Some("admin"), None)
            .await
    };
    ($kit:expr, $service:expr, $method:expr, $path:expr, $body:expr) => {
        $kit.call(&$service, $method, $path, Some("admin"), Some($body))
            .await
    };
}

fn titles(reply: &Reply) -> Vec<&str> {
    reply.json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.json))
        .iter()
        .map(|row| row["title"].as_str().unwrap())
        .collect()
}

/// Fills the materialized view the PostgreSQL sample creates `WITH NO DATA`, as its owner
/// would (SQLite's stand-in is a table that holds its row already).
fn refresh(database: &TestDatabase) {
    if database.backend == Backend::Postgres {
        database.execute("REFRESH MATERIALIZED VIEW film_rate_total;");
    }
}

/// The rows of `meta`'s table as the database itself renders them (JSON per row), in the order
/// the API lists them by default.
fn database_rows(database: &TestDatabase, meta: &TableMeta) -> Vec<Value> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let quote = tenantapi_schema::sql::quote_identifier;
    let pairs: Vec<String> = meta
        .columns
        .iter()
        .map(|column| match column.database_type {
            // Served as the database's text form.
            Some(_) => format!("'{}', CAST({} AS TEXT)", column.name, quote(column.name)),
            None => format!("'{}', {}", column.name, quote(column.name)),
        })
        .collect();
    let order: Vec<String> = if meta.has_primary_key() {
        meta.primary_key_columns()
            .map(|column| quote(column.name))
            .collect()
    } else if meta.ordering.is_empty() {
        // No column to order by (an unbounded numeric served as text): the API's fallback.
        vec![quote(meta.columns[0].name)]
    } else {
        meta.ordering.iter().map(|(name, _)| quote(name)).collect()
    };
    // Functions take at most 100 (PostgreSQL) or 127 (SQLite) arguments: a wide table's
    // object is built in parts and merged (a SQL null then leaves its key out on SQLite,
    // which reads as null all the same).
    let parts: Vec<String> = pairs
        .chunks(40)
        .map(|chunk| match database.backend {
            Backend::Postgres => format!("jsonb_build_object({})", chunk.join(", ")),
            Backend::Sqlite => format!("json_object({})", chunk.join(", ")),
        })
        .collect();
    let object = match database.backend {
        Backend::Postgres => format!("CAST({} AS TEXT)", parts.join(" || ")),
        Backend::Sqlite => parts
            .into_iter()
            .reduce(|merged, part| format!("json_patch({merged}, {part})"))
            .unwrap_or_else(|| "json_object()".into()),
    };
    let sql = format!(
        "SELECT {object} AS row FROM {} ORDER BY {}",
        quote(meta.name),
        order.join(", ")
    );
    let rows: Vec<Row> = diesel::sql_query(sql)
        .load(&mut database.connect())
        .unwrap();
    rows.into_iter()
        .map(|row| serde_json::from_str(&row.row).unwrap())
        .collect()
}

/// A number however it is written (`"4.99"`, `4.99`).
fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// A date-time however it is written, as UTC wall time (`2024-05-01T09:30:00Z`,
/// `2024-05-01T09:30:00+00:00`, `2024-05-01 09:30:00`).
fn as_instant(value: &Value) -> Option<chrono::NaiveDateTime> {
    let text = value.as_str()?.replace(' ', "T");
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|aware| aware.naive_utc())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// Whether the API shows the database's value of `column` (one item, for a list).
fn same_scalar(column: &ColumnMeta, api: &Value, database: &Value) -> bool {
    if api.is_null() || database.is_null() {
        return api.is_null() && database.is_null();
    }
    match column.kind {
        ColumnKind::Numeric { .. } | ColumnKind::Real | ColumnKind::Double => {
            matches!((as_number(api), as_number(database)), (Some(a), Some(b)) if (a - b).abs() < 1e-6)
        }
        // SQLite keeps booleans as 0 and 1.
        ColumnKind::Boolean => {
            Some(api) == Some(database)
                || as_number(database) == Some(if api == &Value::Bool(true) { 1.0 } else { 0.0 })
        }
        ColumnKind::Timestamp | ColumnKind::Timestamptz => {
            as_instant(api).is_some() && as_instant(api) == as_instant(database)
        }
        _ => api == database,
    }
}

fn same_value(column: &ColumnMeta, api: &Value, database: &Value) -> bool {
    if !column.array {
        return same_scalar(column, api, database);
    }
    // SQLite keeps a list as JSON text.
    let database = match database {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    match (api, &database) {
        (Value::Array(api), Value::Array(database)) => {
            api.len() == database.len()
                && api
                    .iter()
                    .zip(database)
                    .all(|(a, b)| same_scalar(column, a, b))
        }
        (api, database) => api.is_null() && database.is_null(),
    }
}

fn assert_rows_equal(meta: &TableMeta, api_rows: &[Value], database_rows: &[Value]) {
    assert_eq!(
        api_rows.len(),
        database_rows.len(),
        "table {}: {api_rows:?} against {database_rows:?}",
        meta.name
    );
    for (api, database) in api_rows.iter().zip(database_rows) {
        for column in meta.columns {
            assert!(
                same_value(column, &api[column.name], &database[column.name]),
                "table {} column {}: the API shows {} where the database holds {}",
                meta.name,
                column.name,
                api[column.name],
                database[column.name]
            );
        }
        assert_eq!(
            api.as_object().unwrap().len(),
            meta.columns.len(),
            "table {}: {api}",
            meta.name
        );
    }
}

mod filters;
mod introspection;
mod rows;
mod wide;
mod writes;
