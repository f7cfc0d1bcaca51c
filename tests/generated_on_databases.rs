//! The generated code against real databases: the DDL creates exactly the described structure,
//! and every table's queries round-trip every column type, on SQLite and on PostgreSQL.

use diesel::RunQueryDsl as _;
use serde_json::{Value, json};
use tenantapi_generated::tables;
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_runtime::data::constraint::{WriteKind, explain_write_error};
use tenantapi_runtime::data::resource::Resource;
use tenantapi_runtime::data::sql::{SqlFilter, SqlOrder};
use tenantapi_runtime::data::write::WritableResource;
use tenantapi_runtime::data::write_error::ExplainedWriteError;
use tenantapi_runtime::http::key_path::parse_primary_key;
use tenantapi_runtime::http::list::{PageSettings, parse_list_request};
use tenantapi_testkit::TestDatabase;

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct ColumnInfo {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    not_null: bool,
}

/// Column names and NOT NULL flags of a live table, in column order.
fn live_columns(connection: &mut DbConnection, table: &str) -> Vec<ColumnInfo> {
    match connection {
        DbConnection::Sqlite(sqlite) => diesel::sql_query(format!(
            "SELECT name, \"notnull\" OR pk AS not_null FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .load(sqlite)
        .unwrap(),
        DbConnection::Pg(pg) => diesel::sql_query(format!(
            "SELECT column_name::text AS name, is_nullable = 'NO' AS not_null FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
        ))
        .load(pg)
        .unwrap(),
    }
}

fn check_structure_matches_description(database: &TestDatabase) {
    let mut connection = database.connect();
    for meta in tenantapi_generated::API.table_metas() {
        let live = live_columns(&mut connection, meta.name);
        let described: Vec<ColumnInfo> = meta
            .columns
            .iter()
            .map(|column| ColumnInfo {
                name: column.name.to_string(),
                not_null: !column.nullable,
            })
            .collect();
        assert_eq!(
            live,
            described,
            "table {} on {}",
            meta.name,
            connection.backend()
        );
    }
}

fn body(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn key(
    meta_pk: &str,
    resource_meta: &'static tenantapi_runtime::data::meta::TableMeta,
) -> SqlFilter {
    parse_primary_key(resource_meta, meta_pk).unwrap()
}

fn as_json<T: serde::Serialize>(row: &T) -> Value {
    serde_json::to_value(row).unwrap()
}

fn check_every_type_round_trips(database: &TestDatabase) {
    let mut connection = database.connect();
    let backend = connection.backend();

    let site = tables::site::SiteResource::insert(
        &mut connection,
        body(json!({"code": "S1", "name": "North", "external_ref": "6f1c1f4e-2b8c-4c7e-9a51-0d3e5b8f2a10", "latitude": 47.5})),
    )
    .unwrap();
    let site = as_json(&site);
    assert_eq!(site["id"], 1);
    assert_eq!(site["is_active"], true, "server default applied");
    assert_eq!(site["external_ref"], "6f1c1f4e-2b8c-4c7e-9a51-0d3e5b8f2a10");
    assert_eq!(site["longitude"], Value::Null);

    let point = as_json(
        &tables::data_point::DataPointResource::insert(
            &mut connection,
            body(json!({"name": "meter", "unit": "kWh", "site_id": 1})),
        )
        .unwrap(),
    );
    assert_eq!(
        point["type"], "measured",
        "default of a column whose SQL name is a keyword"
    );

    let reading = as_json(
        &tables::reading::ReadingResource::insert(
            &mut connection,
            body(json!({"data_point_id": 1, "measured_at": "2024-06-01T10:00:00Z", "value": "12.500000", "raw": "AAEC/w=="})),
        )
        .unwrap(),
    );
    assert_eq!(
        reading["value"], "12.500000",
        "numeric keeps its scale on {backend}"
    );
    assert_eq!(reading["measured_at"], "2024-06-01T10:00:00Z");
    assert_eq!(reading["raw"], "AAEC/w==");
    assert_eq!(reading["quality"], 0);
    assert!(
        reading["recorded_at"].as_str().unwrap().ends_with('Z'),
        "defaulted timestamptz reads back: {reading}"
    );

    let window = as_json(
        &tables::maintenance_window::MaintenanceWindowResource::insert(
            &mut connection,
            body(json!({
                "site_id": 1, "starts_at": "2024-06-01T08:30:00", "daily_start": "06:15:00",
                "ticket": "0b9e1c52-6a4f-4c1e-8d55-5f0c2a7b9e11", "details": {"crew": ["a", "b"], "n": 1.5},
                "self": "ops"
            })),
        )
        .unwrap(),
    );
    assert_eq!(window["details"], json!({"crew": ["a", "b"], "n": 1.5}));
    assert_eq!(window["daily_start"], "06:15:00");
    assert_eq!(window["starts_at"], "2024-06-01T08:30:00");
    assert_eq!(window["self"], "ops");
    assert_eq!(window["priority"], 3);

    tables::tag::TagResource::insert(&mut connection, body(json!({"label": "Energy"}))).unwrap();
    let link = as_json(
        &tables::data_point_tag::DataPointTagResource::insert(
            &mut connection,
            body(json!({"data_point_id": 1, "tag_id": 1})),
        )
        .unwrap(),
    );
    assert_eq!(
        (link["data_point_id"].clone(), link["tag_id"].clone()),
        (json!(1), json!(1))
    );
    let found = tables::data_point_tag::DataPointTagResource::load(
        &mut connection,
        key("1,1", tables::data_point_tag::DataPointTagResource::META),
        SqlOrder::new(vec![("data_point_id", false)]).window(1, 0),
    )
    .unwrap();
    assert_eq!(found.len(), 1, "composite key lookup");

    // Filters built at run time reach the database with the right types.
    let meta = tables::reading::ReadingResource::META;
    let request = parse_list_request(
        meta,
        backend,
        "value__gt=12.4&quality__in=0,1&measured_at__lte=2024-06-01T10:00:00Z",
        PageSettings::default(),
    )
    .unwrap();
    assert_eq!(
        tables::reading::ReadingResource::count(&mut connection, request.filter).unwrap(),
        1
    );
    let request =
        parse_list_request(meta, backend, "value__gt=12.5", PageSettings::default()).unwrap();
    assert_eq!(
        tables::reading::ReadingResource::count(&mut connection, request.filter).unwrap(),
        0
    );
    let meta = tables::tag::TagResource::META;
    for (query, expected) in [
        ("label__icontains=ENER", 1),
        ("label__contains=ener", 0),
        ("label__startswith=En", 1),
        ("label__endswith=gy", 1),
        ("label__contains=%", 0),
    ] {
        let request = parse_list_request(meta, backend, query, PageSettings::default()).unwrap();
        assert_eq!(
            tables::tag::TagResource::count(&mut connection, request.filter).unwrap(),
            expected,
            "{query} on {backend}"
        );
    }

    // A patch distinguishes "absent" from "null".
    let updated = tables::data_point::DataPointResource::update(
        &mut connection,
        key("1", tables::data_point::DataPointResource::META),
        body(json!({"unit": null})),
    )
    .unwrap()
    .expect("row exists");
    let updated = as_json(&updated);
    assert_eq!(
        (updated["unit"].clone(), updated["name"].clone()),
        (Value::Null, json!("meter"))
    );

    // Constraint violations become DRF field errors on both backends.
    for (row, field, message) in [
        (
            json!({"name": "meter"}),
            "name",
            "data point with this name already exists.",
        ),
        (
            json!({"name": "other", "site_id": 7}),
            "site_id",
            "Invalid pk \"7\" - object does not exist.",
        ),
    ] {
        let error =
            tables::data_point::DataPointResource::insert(&mut connection, body(row.clone()))
                .unwrap_err();
        let explained = explain_write_error(
            tables::data_point::DataPointResource::META,
            &mut connection,
            &body(row),
            WriteKind::Insert,
            error,
        );
        assert_field_error(explained, field, message);
    }

    let pair =
        json!({"data_point_id": 1, "measured_at": "2024-06-01T10:00:00Z", "value": "1.000000"});
    let error =
        tables::reading::ReadingResource::insert(&mut connection, body(pair.clone())).unwrap_err();
    let explained = explain_write_error(
        tables::reading::ReadingResource::META,
        &mut connection,
        &body(pair),
        WriteKind::Insert,
        error,
    );
    assert_field_error(
        explained,
        "non_field_errors",
        "The fields data_point_id, measured_at must make a unique set.",
    );

    // RESTRICT keeps a referenced site; CASCADE removes dependents.
    let error = tables::site::SiteResource::delete(
        &mut connection,
        key("1", tables::site::SiteResource::META),
    )
    .unwrap_err();
    let explained = explain_write_error(
        tables::site::SiteResource::META,
        &mut connection,
        &body(json!({})),
        WriteKind::Delete,
        error.into(),
    );
    assert!(
        matches!(explained, ExplainedWriteError::Invalid(_)),
        "{explained:?}"
    );
    assert_eq!(
        tables::data_point::DataPointResource::delete(
            &mut connection,
            key("1", tables::data_point::DataPointResource::META)
        )
        .unwrap(),
        1
    );
    assert_eq!(
        tables::reading::ReadingResource::count(&mut connection, SqlFilter::all()).unwrap(),
        0,
        "cascade"
    );
    assert_eq!(
        tables::data_point::DataPointResource::delete(
            &mut connection,
            key("1", tables::data_point::DataPointResource::META)
        )
        .unwrap(),
        0
    );

    // The version row is where the description says it is.
    let version: Vec<String> = tables::schema_version::SchemaVersionResource::load(
        &mut connection,
        SqlFilter::all(),
        SqlOrder::new(vec![("version", false)]).window(10, 0),
    )
    .unwrap()
    .into_iter()
    .map(|row| row.version)
    .collect();
    assert_eq!(
        version,
        vec![tenantapi_generated::SCHEMA_VERSION.to_string()]
    );
}

fn assert_field_error(error: ExplainedWriteError, field: &str, message: &str) {
    match error {
        ExplainedWriteError::Invalid(errors) => assert_eq!(
            errors.messages(field),
            Some(&[message.to_string()][..]),
            "{errors:?}"
        ),
        other => panic!("expected a field error on {field}, got {other:?}"),
    }
}

#[test]
fn sqlite_structure_matches_description() {
    check_structure_matches_description(&TestDatabase::sqlite());
}

#[test]
fn postgres_structure_matches_description() {
    check_structure_matches_description(&TestDatabase::postgres());
}

#[test]
fn sqlite_round_trips_every_type() {
    check_every_type_round_trips(&TestDatabase::sqlite());
}

#[test]
fn postgres_round_trips_every_type() {
    check_every_type_round_trips(&TestDatabase::postgres());
}

/// Regression: a NaN that PostgreSQL's numeric allows made every read of the table fail.
#[test]
fn postgres_numeric_nan_reads_as_nan_instead_of_failing_the_table() {
    let database = TestDatabase::postgres();
    database.execute(
        "INSERT INTO data_point (name) VALUES ('meter');
         INSERT INTO reading (data_point_id, measured_at, value) VALUES (1, now(), 'NaN'), (1, now() + interval '1 hour', 2.5);",
    );
    let rows = tables::reading::ReadingResource::load(
        &mut database.connect(),
        SqlFilter::all(),
        SqlOrder::new(vec![("id", false)]).window(10, 0),
    )
    .unwrap();
    let values: Vec<Value> = rows
        .iter()
        .map(|row| as_json(row)["value"].clone())
        .collect();
    assert_eq!(values, [json!("NaN"), json!("2.500000")]);
}
