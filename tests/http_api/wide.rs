//! Structures as real databases have them (issue 25), on both backends, from the
//! `keys_and_names` snapshot fixture's crate served by the test kit: a table of 32 columns (as
//! wide as generated tables hold) written and read back whole, and tables named with a space,
//! capitals and a letter outside ASCII served at their percent-encoded names.

use super::*;

on_both_backends!(
    a_table_of_thirty_two_columns_is_written_and_read_whole,
    wide_scenario
);
async fn wide_scenario(backend: Backend) {
    let fixture = TestKit::builder(backend)
        .api(&snapshot_keys_and_names::API)
        .project("wide", None)
        .superuser("tester")
        .build()
        .expect("test kit");
    let app = app(&fixture).await;
    let mut row = serde_json::Map::new();
    // One value of each column's type, in the order the fixture cycles through them.
    let values = [
        json!(7),
        json!("text"),
        json!(true),
        json!("2024-06-01T12:00:00Z"),
        json!("12.50"),
        json!("00000000-0000-4000-8000-000000000007"),
        json!({"nested": [1, 2]}),
        json!("2024-06-01"),
        json!(2.5),
        json!(9_000_000_000_i64),
        json!("short"),
        json!("AQID"),
        json!("12:30:00"),
        json!(3),
        json!(1.5),
        json!("2024-06-01T12:00:00"),
    ];
    for index in 1..32 {
        row.insert(
            format!("c{index:02}"),
            values[(index - 1) % values.len()].clone(),
        );
    }
    let created = call(
        &app,
        Method::POST,
        "/api/v1/wide/wide_record/",
        Some(Value::Object(row.clone())),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let id = created.json["id"].as_i64().unwrap();
    let read = get(&app, &format!("/api/v1/wide/wide_record/{id}/")).await;
    assert_eq!(read.status, 200, "{}", read.json);
    assert_eq!(read.json.as_object().unwrap().len(), 32, "{}", read.json);
    for (name, value) in &row {
        assert_eq!(&read.json[name], value, "{name}");
    }
    let listed = get(&app, "/api/v1/wide/wide_record/?c01=7").await;
    assert_eq!(listed.json["count"], 1, "{}", listed.json);
}

on_both_backends!(
    tables_named_with_spaces_and_letters_outside_ascii_are_served_at_their_encoded_names,
    table_names_scenario
);
/// Issue 25: `Order Details` and `Straße` (the `keys_and_names` fixture) are served at
/// `Order%20Details` and `Stra%C3%9Fe`, listed so in the project's index and the document.
async fn table_names_scenario(backend: Backend) {
    let fixture = TestKit::builder(backend)
        .api(&snapshot_keys_and_names::API)
        .project("names", None)
        .superuser("tester")
        .build()
        .expect("test kit");
    let app = app(&fixture).await;
    let created = call(
        &app,
        Method::POST,
        "/api/v1/names/Order%20Details/",
        Some(json!({"Unit Price": "12.50", "Quantity": 3})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(
        created.json,
        json!({"OrderID": 1, "Unit Price": "12.50", "Quantity": 3})
    );
    let read = get(&app, "/api/v1/names/Order%20Details/1/").await;
    assert_eq!(read.json, created.json);
    let filtered = get(&app, "/api/v1/names/Order%20Details/?Quantity=3").await;
    assert_eq!(filtered.json["count"], 1, "{}", filtered.json);
    let street = call(
        &app,
        Method::POST,
        "/api/v1/names/Stra%C3%9Fe/",
        Some(json!({"Name": "Hauptstraße"})),
    )
    .await;
    assert_eq!(street.status, 201, "{}", street.json);
    let index = get(&app, "/api/v1/names/").await;
    assert_eq!(
        index.json["Order Details"], "http://localhost:8080/api/v1/names/Order%20Details/",
        "{}",
        index.json
    );
    assert_eq!(
        index.json["Straße"],
        "http://localhost:8080/api/v1/names/Stra%C3%9Fe/"
    );
    let document: Value = serde_json::from_str(snapshot_keys_and_names::OPENAPI_JSON).unwrap();
    assert!(document["paths"]["/{project}/Order%20Details/{pk}/"].is_object());
}
