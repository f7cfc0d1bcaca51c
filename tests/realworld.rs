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
use tenantapi_runtime::meta::{ColumnKind, ColumnMeta, TableMeta};
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
        Some("store"),
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
        None,
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
    let mut served: Vec<&str> = API.tables.iter().map(|meta| meta.name).collect();
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
        let live = introspect::live_structure(&mut database.connect()).unwrap();
        assert_eq!(
            introspect::drift(&live, API.tables),
            Vec::<String>::new(),
            "{backend:?}"
        );
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
    let object = match database.backend {
        Backend::Postgres => format!("CAST(jsonb_build_object({}) AS TEXT)", pairs.join(", ")),
        Backend::Sqlite => format!("json_object({})", pairs.join(", ")),
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

on_both_backends!(every_table_serves_the_databases_rows, rows_scenario);
async fn rows_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    if backend == Backend::Postgres {
        // Not populated yet: unavailable until the database refreshes it, never a 500.
        let unpopulated = call!(kit, service, "GET", "/api/v1/store/film_rate_total/");
        assert_eq!(unpopulated.status, 503, "{}", unpopulated.json);
        let detail = unpopulated.json["detail"].as_str().unwrap();
        assert!(
            detail.contains("materialized view \"film_rate_total\" has not been populated")
                && detail.contains("REFRESH MATERIALIZED VIEW"),
            "{detail}"
        );
        refresh(&database);
    }
    let index = call!(kit, service, "GET", "/api/v1/store/");
    assert_eq!(index.status, 200, "{}", index.json);
    assert_eq!(
        index.json.as_object().unwrap().len(),
        API.tables.len(),
        "{}",
        index.json
    );
    for meta in API.tables {
        let list = call!(
            kit,
            service,
            "GET",
            &format!("/api/v1/store/{}/?page_size=1000", meta.name)
        );
        assert_eq!(list.status, 200, "{}: {}", meta.name, list.json);
        let api_rows = list.json["results"].as_array().unwrap();
        let expected = database_rows(&database, meta);
        assert!(!expected.is_empty(), "the sample has rows in {}", meta.name);
        assert_rows_equal(meta, api_rows, &expected);
        if meta.has_primary_key() {
            for row in api_rows {
                let key = tenantapi_runtime::list::primary_key_segment(meta, row).unwrap();
                let detail = call!(
                    kit,
                    service,
                    "GET",
                    &format!("/api/v1/store/{}/{key}/", meta.name)
                );
                assert_eq!(detail.status, 200, "{} {key}: {}", meta.name, detail.json);
                assert_eq!(&detail.json, row, "{} {key}", meta.name);
            }
        } else {
            // A keyless view has the list route only.
            let detail = call!(
                kit,
                service,
                "GET",
                &format!("/api/v1/store/{}/1/", meta.name)
            );
            assert_eq!(detail.status, 404, "{}", meta.name);
        }
        if meta.read_only {
            let refused = call!(
                kit,
                service,
                "POST",
                &format!("/api/v1/store/{}/", meta.name),
                json!({})
            );
            assert_eq!(refused.status, 405, "{}: {}", meta.name, refused.json);
        }
    }
}

on_both_backends!(filters_on_real_world_types, filters_scenario);
async fn filters_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let get = |path: &str| format!("/api/v1/store/{path}");

    let reply = call!(kit, service, "GET", &get("film/?rating=PG"));
    assert_eq!(titles(&reply), ["ACADEMY DINOSAUR"], "an enum value");
    let reply = call!(kit, service, "GET", &get("film/?rating__in=G,NC-17"));
    assert_eq!(titles(&reply), ["ACE GOLDFINGER", "ADAPTATION HOLES"]);
    let reply = call!(kit, service, "GET", &get("film/?rating=X"));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json,
        json!({"rating": ["\"X\" is not a valid choice."]})
    );
    let reply = call!(kit, service, "GET", &get("film/?rating__isnull=true"));
    assert_eq!(titles(&reply), ["AFFAIR PREJUDICE"]);

    let reply = call!(
        kit,
        service,
        "GET",
        &get("film/?special_features__contains=Trailers")
    );
    assert_eq!(
        titles(&reply),
        ["ACE GOLDFINGER", "ADAPTATION HOLES"],
        "a list item"
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("film/?special_features__contains=Trailers,Deleted%20Scenes")
    );
    assert_eq!(titles(&reply), ["ACE GOLDFINGER"], "every item");
    let reply = call!(kit, service, "GET", &get("film/?special_features__gt=a"));
    assert_eq!(
        reply.status, 400,
        "lists take no range lookups: {}",
        reply.json
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?favourite_films__contains=3")
    );
    assert_eq!(reply.json["count"], 1, "{}", reply.json);
    assert_eq!(reply.json["results"][0]["first_name"], "Mary");
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?favourite_films__contains=x")
    );
    assert_eq!(
        reply.json,
        json!({"favourite_films__contains": ["A valid integer is required."]})
    );

    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?email=MARY.SMITH@EXAMPLE.COM")
    );
    assert_eq!(
        reply.json["count"], 1,
        "citext compares without case: {}",
        reply.json
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?email__startswith=PATRICIA")
    );
    assert_eq!(reply.json["count"], 1, "{}", reply.json);
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?postal%20code=SW1A%201AA")
    );
    assert_eq!(
        reply.json["count"], 1,
        "a column named with a space: {}",
        reply.json
    );
    assert_eq!(reply.json["results"][0]["postal code"], "SW1A 1AA");
    let reply = call!(kit, service, "GET", &get("language/?name=English"));
    assert_eq!(
        reply.json["count"], 1,
        "char(n) compares as the database does: {}",
        reply.json
    );

    let reply = call!(kit, service, "GET", &get("film/?release_year__gte=2007"));
    assert_eq!(
        titles(&reply),
        ["ADAPTATION HOLES"],
        "a domain over integer"
    );
    let reply = call!(kit, service, "GET", &get("film/?fulltext__isnull=false"));
    assert_eq!(reply.json["count"], 4, "{}", reply.json);
    let reply = call!(kit, service, "GET", &get("film/?fulltext=x"));
    assert_eq!(
        reply.status, 400,
        "a text form is not compared: {}",
        reply.json
    );

    let reply = call!(kit, service, "GET", &get("film_list/?ordering=-length"));
    let lengths: Vec<Value> = reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["length"].clone())
        .collect();
    let expected = match backend {
        // NULL sorts first descending on PostgreSQL, last on SQLite.
        Backend::Postgres => json!([null, 117, 86, 48]),
        Backend::Sqlite => json!([117, 86, 48, null]),
    };
    assert_eq!(Value::Array(lengths), expected);
    let reply = call!(kit, service, "GET", &get("film/?ordering=rating"));
    let expected = match backend {
        // PostgreSQL orders an enum by its declared values (NULL last); SQLite by text (NULL
        // first).
        Backend::Postgres => [
            "ACE GOLDFINGER",
            "ACADEMY DINOSAUR",
            "ADAPTATION HOLES",
            "AFFAIR PREJUDICE",
        ],
        Backend::Sqlite => [
            "AFFAIR PREJUDICE",
            "ACE GOLDFINGER",
            "ADAPTATION HOLES",
            "ACADEMY DINOSAUR",
        ],
    };
    assert_eq!(titles(&reply), expected);
    let reply = call!(kit, service, "GET", &get("film/?ordering=special_features"));
    assert_eq!(reply.status, 400, "lists have no order: {}", reply.json);
}

on_both_backends!(writes_on_real_world_types, writes_scenario);
async fn writes_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let films = "/api/v1/store/film/";

    let created = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "ZORRO ARK", "description": "A charming story", "release_year": 2010,
               "language_id": 1, "rating": "R", "special_features": ["Trailers", "Commentaries"]})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["rating"], "R");
    assert_eq!(
        created.json["special_features"],
        json!(["Trailers", "Commentaries"])
    );
    assert_eq!(created.json["rental_rate"], "4.99", "the database default");
    assert!(
        created.json["fulltext"]
            .as_str()
            .is_some_and(|text| text.contains("zorro")),
        "kept by the database's trigger: {}",
        created.json
    );
    // A list: on PostgreSQL one multi-row INSERT, where an enum, an array and a column left
    // to its default meet in one VALUES list (as many statements as a list of one: the
    // row-by-row path, which would give the same answer, is not what ran).
    let pool = kit.registry().pool("store").expect("project store");
    let before = pool.statements_run();
    let one = call!(
        kit,
        service,
        "POST",
        films,
        json!([{"title": "ZORRO ONE", "language_id": 1, "rating": "G"}])
    );
    assert_eq!(one.status, 201, "{}", one.json);
    let statements_for_one = pool.statements_run() - before;
    let before = pool.statements_run();
    let listed = call!(
        kit,
        service,
        "POST",
        films,
        json!([
            {"title": "ZORRO TWO", "language_id": 1, "rating": "PG-13", "special_features": ["Trailers"]},
            {"title": "ZORRO THREE", "language_id": 1, "rental_rate": "0.99"}
        ])
    );
    assert_eq!(listed.status, 201, "{}", listed.json);
    if backend == Backend::Postgres {
        assert_eq!(pool.statements_run() - before, statements_for_one);
    }
    let (two, three) = (&listed.json[0], &listed.json[1]);
    assert_eq!(
        (
            &two["title"],
            &two["rating"],
            &two["special_features"],
            &two["rental_rate"]
        ),
        (
            &json!("ZORRO TWO"),
            &json!("PG-13"),
            &json!(["Trailers"]),
            &json!("4.99")
        )
    );
    assert_eq!(
        (&three["title"], &three["rental_rate"]),
        (&json!("ZORRO THREE"), &json!("0.99"))
    );
    assert!(
        three["fulltext"]
            .as_str()
            .is_some_and(|text| text.contains("zorro")),
        "{three}"
    );
    let id = created.json["film_id"].as_i64().unwrap();
    let patched = call!(
        kit,
        service,
        "PATCH",
        &format!("{films}{id}/"),
        json!({"special_features": [], "rating": null})
    );
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["special_features"], json!([]));
    assert_eq!(patched.json["rating"], Value::Null);
    let film = database_rows(&database, API.table("film").unwrap())
        .into_iter()
        .find(|row| row["film_id"] == json!(id))
        .unwrap();
    assert!(same_value(
        API.table("film")
            .unwrap()
            .column("special_features")
            .unwrap(),
        &json!([]),
        &film["special_features"]
    ));

    let customer = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "country_code": "FR"})
    );
    assert_eq!(customer.status, 201, "{}", customer.json);
    assert_eq!(
        customer.json["full_name"], "Ann Lee",
        "computed by the database"
    );
    assert_eq!(
        customer.json["favourite_films"],
        json!([]),
        "the database default"
    );
    let duplicate = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "A", "last_name": "B", "email": "ANN@example.com"})
    );
    assert_eq!(duplicate.status, 400, "{}", duplicate.json);
    assert_eq!(
        duplicate.json,
        json!({"email": ["customer with this email already exists."]}),
        "citext uniqueness ignores case"
    );

    // Error paths: each a DRF-shaped 400, nothing written.
    let cases = [
        (
            json!({"title": "X", "language_id": 1, "rating": "X"}),
            json!({"rating": ["\"X\" is not a valid choice."]}),
        ),
        (
            json!({"title": "X", "language_id": 1, "special_features": "Trailers"}),
            json!({"special_features": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            json!({"title": "X", "language_id": 1, "special_features": ["ok", 7, null]}),
            json!({"special_features": {"2": ["This field may not be null."]}}),
        ),
        (
            json!({"title": "X", "language_id": 1, "fulltext": "x"}),
            json!({"fulltext": ["This field is read-only: the database maintains it."]}),
        ),
        (
            json!({"title": "This title is longer than forty characters!!", "language_id": 1}),
            json!({"title": ["Ensure this field has no more than 40 characters."]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = call!(kit, service, "POST", films, body.clone());
        assert_eq!((reply.status, &reply.json), (400, &expected), "{body}");
    }
    let reply = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "A", "last_name": "B", "favourite_films": ["x", 2, "3"]})
    );
    assert_eq!(
        (reply.status, &reply.json),
        (
            400,
            &json!({"favourite_films": {"0": ["A valid integer is required."]}})
        )
    );
    let reply = call!(
        kit,
        service,
        "PATCH",
        "/api/v1/store/customer/1/",
        json!({"full_name": "Someone Else"})
    );
    assert_eq!(
        (reply.status, &reply.json),
        (
            400,
            &json!({"full_name": ["This field is read-only: the database maintains it."]})
        ),
        "a generated column cannot be written"
    );

    // The database's own checks: a domain's (PostgreSQL) or a column's, under the field.
    let reply = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "X", "language_id": 1, "release_year": 1800})
    );
    assert_eq!(reply.status, 400, "{}", reply.json);
    let message = reply.json["release_year"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{}", reply.json));
    assert!(
        message.starts_with("This value violates the database check"),
        "{message}"
    );
    let reply = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "X", "language_id": 1, "length": -5})
    );
    assert_eq!(reply.status, 400, "{}", reply.json);
    assert!(reply.json["length"][0].is_string(), "{}", reply.json);
    let count = call!(kit, service, "GET", "/api/v1/store/film/?title=X");
    assert_eq!(count.json["count"], 0, "nothing was written");
}

on_both_backends!(pagila_and_chinook_shapes, shapes_scenario);
/// What Pagila and Chinook have that the store sample also has: a PascalCase table referencing
/// itself, whose SQLite DATETIME and NUMERIC(10,2) (a REAL and an INTEGER) are served in DRF's
/// forms; a column named like its table, read, filtered and written; stores and staff
/// referencing each other, one through a smallint key, expanded both ways.
async fn shapes_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let get = |path: &str| format!("/api/v1/store/{path}");

    let adams = call!(kit, service, "GET", &get("Employee/1/"));
    assert_eq!(adams.status, 200, "{}", adams.json);
    assert_eq!(
        adams.json,
        json!({"EmployeeId": 1, "LastName": "Adams", "ReportsTo": null,
               "HireDate": "2002-08-14T00:00:00", "Salary": "1.98"})
    );
    let edwards = call!(kit, service, "GET", &get("Employee/2/"));
    assert_eq!(edwards.json["Salary"], "2.00", "{}", edwards.json);
    let reports = call!(kit, service, "GET", &get("Employee/?ReportsTo=1"));
    assert_eq!(reports.json["count"], 1, "{}", reports.json);
    assert_eq!(reports.json["results"][0]["LastName"], "Edwards");
    let peacock = call!(kit, service, "GET", &get("Employee/3/?expand=ReportsTo"));
    assert_eq!(
        peacock.json["ReportsTo"]["LastName"], "Edwards",
        "a self-reference expands: {}",
        peacock.json
    );
    let hired = call!(
        kit,
        service,
        "POST",
        &get("Employee/"),
        json!({"EmployeeId": 4, "LastName": "Park", "ReportsTo": 2,
               "HireDate": "2003-05-03T00:00:00", "Salary": 3})
    );
    assert_eq!(hired.status, 201, "{}", hired.json);
    assert_eq!(
        (&hired.json["HireDate"], &hired.json["Salary"]),
        (&json!("2003-05-03T00:00:00"), &json!("3.00"))
    );

    let japan = call!(kit, service, "GET", &get("country/?country=Japan"));
    assert_eq!(japan.json["count"], 1, "{}", japan.json);
    assert_eq!(japan.json["results"][0]["country"], "Japan");
    let spain = call!(
        kit,
        service,
        "POST",
        &get("country/"),
        json!({"country": "Spain"})
    );
    assert_eq!(spain.status, 201, "{}", spain.json);
    assert_eq!(spain.json["country"], "Spain");
    let id = spain.json["country_id"].as_i64().unwrap();
    let renamed = call!(
        kit,
        service,
        "PATCH",
        &get(&format!("country/{id}/")),
        json!({"country": "España"})
    );
    assert_eq!(
        (renamed.status, &renamed.json["country"]),
        (200, &json!("España"))
    );
    let refused = call!(kit, service, "POST", &get("country/"), json!({}));
    assert_eq!(
        (refused.status, &refused.json),
        (400, &json!({"country": ["This field is required."]}))
    );

    let staff = call!(kit, service, "GET", &get("staff/3/?expand=store"));
    assert_eq!(staff.status, 200, "{}", staff.json);
    assert_eq!(
        staff.json["store_id"],
        json!({"store_id": 1, "manager_staff_id": 1, "country_id": 1}),
        "a smallint key expands to the integer-keyed row"
    );
    let store = call!(
        kit,
        service,
        "GET",
        &get("store/2/?expand=manager_staff,staff_set")
    );
    assert_eq!(store.status, 200, "{}", store.json);
    assert_eq!(store.json["manager_staff_id"]["first_name"], "Jon");
    assert_eq!(
        store.json["staff_set"],
        json!([{"staff_id": 2, "first_name": "Jon", "store_id": 2}])
    );
    let moved = call!(
        kit,
        service,
        "PATCH",
        &get("staff/3/"),
        json!({"store_id": 2})
    );
    assert_eq!((moved.status, &moved.json["store_id"]), (200, &json!(2)));
    let nowhere = call!(
        kit,
        service,
        "PATCH",
        &get("staff/3/"),
        json!({"store_id": 9})
    );
    assert_eq!(nowhere.status, 400, "{}", nowhere.json);
}

/// The generated PostgreSQL DDL creates the sample's structure (the store <-> staff cycle, the
/// domains), and the description finds no drift in it. (Its SQLite DDL cannot run: the
/// generated column's expression is PostgreSQL's own spelling, as introspected.)
#[test]
fn the_generated_ddl_creates_the_sample_structure() {
    let database = TestDatabase::with_structure(API, Backend::Postgres);
    let live = introspect::live_structure(&mut database.connect()).unwrap();
    assert_eq!(introspect::drift(&live, API.tables), Vec::<String>::new());
}

/// A partitioned table is one resource: a row is written through the parent into the partition
/// its key selects, and read back through the parent by its key, whose first column is a
/// timestamptz as in Pagila (PostgreSQL only: SQLite has no partitions).
#[actix_web::test]
async fn a_partitioned_table_is_one_resource() {
    let database = sample(Backend::Postgres);
    let kit = kit(&database);
    let service = kit.service().await;
    let payments = API.table("payment").unwrap();
    let created = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/payment/",
        json!({"customer_id": 2, "amount": "1.50", "payment_date": "2025-07-01T11:30:00+02:00"})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["payment_date"], "2025-07-01T09:30:00Z");
    let key = tenantapi_runtime::list::primary_key_segment(payments, &created.json).unwrap();
    let detail = call!(
        kit,
        service,
        "GET",
        &format!("/api/v1/store/payment/{key}/")
    );
    assert_eq!(detail.status, 200, "{key}: {}", detail.json);
    assert_eq!(detail.json["amount"], "1.50", "{}", detail.json);
    let id = created.json["payment_id"].as_i64().unwrap();
    let by_hand = call!(
        kit,
        service,
        "GET",
        &format!("/api/v1/store/payment/2025-07-01T11:30:00+02:00,{id}/")
    );
    assert_eq!(
        (by_hand.status, &by_hand.json),
        (200, &detail.json),
        "the key in another spelling of the same instant"
    );
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let in_partition: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM payment_2025 WHERE payment_date = '2025-07-01 09:30:00+00'",
    )
    .get_result(&mut database.connect())
    .unwrap();
    assert_eq!(in_partition.n, 1);
    let moved = call!(
        kit,
        service,
        "PATCH",
        &format!("/api/v1/store/payment/{key}/"),
        json!({"payment_date": "2024-07-01T09:30:00Z"})
    );
    assert_eq!(
        moved.status, 200,
        "a row moves between partitions: {}",
        moved.json
    );
    assert_eq!(moved.json["payment_date"], "2024-07-01T09:30:00Z");
}

/// Fixtures (the test kit's and `tenantapi fixtures load/dump`) carry real-world types: lists,
/// enums, citext, char(n); a generated column is left to the database (refused in a fixture,
/// left out of a dump, so that a dump loads back).
#[test]
fn fixtures_load_and_dump_real_world_types() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let database = sample(backend);
        refresh(&database);
        let rows = json!({
            "language": [{"language_id": 7, "name": "German", "last_update": "2024-03-01T00:00:00"}],
            "customer": [{"customer_id": 9, "email": "Hans@Example.com", "first_name": "Hans",
                          "last_name": "Meier", "active": true, "favourite_films": [2, 1],
                          "country_code": "DE"}],
        });
        let loaded =
            tenantapi_testkit::load_fixture_text(&database, "rows.json", &rows.to_string())
                .unwrap();
        assert_eq!(loaded, 2, "{backend:?}");
        let dump = tenantapi_testkit::dump(&database);
        let hans = dump["customer"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["customer_id"] == 9)
            .unwrap();
        assert_eq!(hans["favourite_films"], json!([2, 1]), "{backend:?}");
        assert!(
            hans.get("full_name").is_none(),
            "a generated column is not dumped"
        );
        let german = dump["language"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["language_id"] == 7)
            .unwrap();
        assert!(german["name"].as_str().unwrap().starts_with("German"));

        let refused = json!({"customer": [{"customer_id": 10, "first_name": "A", "last_name": "B",
                                           "full_name": "A B"}]});
        let error =
            tenantapi_testkit::load_fixture_text(&database, "bad.json", &refused.to_string())
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("column full_name is computed by the database"),
            "{backend:?}: {error}"
        );
    }
}
