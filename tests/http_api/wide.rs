//! Wide tables (issue 25): a table of 32 columns, as wide as generated tables hold, written and
//! read back over HTTP with a value in every column, on both backends (the `keys_and_names`
//! snapshot fixture's crate, served by the test kit).

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
