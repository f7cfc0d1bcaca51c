//! A table wider than diesel's `table!` takes (`Survey Answer`, 118 columns, read by
//! position): every route and what requests add to a read, on both backends.

use super::*;

const ANSWERS: &str = "/api/v1/store/Survey%20Answer/";

on_both_backends!(
    a_table_wider_than_diesel_takes_serves_every_route,
    wide_scenario
);
async fn wide_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;

    let created = call!(
        kit,
        service,
        "POST",
        ANSWERS,
        json!({"customer_id": 2, "rating": "G", "tags": ["new"], "select": "one",
               "Größe": "3.50", "free text": "Fine.", "answered_at": "2024-05-01T08:00:00Z",
               "q001": 41, "q003": true, "q004": "12.30", "q005": "2024-05-01",
               "q006": "2024-05-01T08:30:00", "q007": 1.5, "q009": 9_000_000_001_i64,
               "q110": "last"})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    let object = created.json.as_object().unwrap();
    assert_eq!(object.len(), 118, "every column answered: {}", created.json);
    assert_eq!(created.json["Größe"], "3.50");
    assert_eq!(created.json["tags"], json!(["new"]));
    assert_eq!(created.json["q006"], "2024-05-01T08:30:00");
    assert_eq!(created.json["q110"], "last");
    assert_eq!(created.json["q002"], Value::Null);
    let id = created.json["answer_id"].as_i64().unwrap();
    let detail_path = format!("{ANSWERS}{id}/");

    let patched = call!(
        kit,
        service,
        "PATCH",
        &detail_path,
        json!({"q001": 42, "free text": "Changed."})
    );
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["q001"], 42);
    assert_eq!(patched.json["free text"], "Changed.");
    assert_eq!(patched.json["q110"], "last", "other columns kept");

    // A filter, an ordering and the count: the statement built from the metadata.
    let filtered = call!(kit, service, "GET", &format!("{ANSWERS}?q001=42"));
    assert_eq!(filtered.status, 200, "{}", filtered.json);
    assert_eq!(filtered.json["count"], 1, "{}", filtered.json);
    assert_eq!(filtered.json["results"][0]["answer_id"], id);
    let ordered = call!(
        kit,
        service,
        "GET",
        &format!("{ANSWERS}?ordering=-q009&page_size=2")
    );
    assert_eq!(ordered.status, 200, "{}", ordered.json);
    assert_eq!(ordered.json["count"], 4, "{}", ordered.json);
    let largest: Vec<i64> = ordered.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["q009"].as_i64().unwrap())
        .collect();
    assert_eq!(largest, [9_000_003_009, 9_000_002_009], "{}", ordered.json);

    // What requests add to a read: fields, expansion both ways.
    let shaped = call!(
        kit,
        service,
        "GET",
        &format!("{detail_path}?fields=answer_id,customer.first_name&expand=customer")
    );
    assert_eq!(shaped.status, 200, "{}", shaped.json);
    assert_eq!(shaped.json.as_object().unwrap().len(), 2, "{}", shaped.json);
    assert_eq!(
        shaped.json["customer_id"]["first_name"], "Patricia",
        "{}",
        shaped.json
    );
    let customer = call!(
        kit,
        service,
        "GET",
        "/api/v1/store/customer/2/?expand=Survey Answer_set"
            .replace(' ', "%20")
            .as_str()
    );
    assert_eq!(customer.status, 200, "{}", customer.json);
    let answers = customer.json["Survey Answer_set"].as_array().unwrap();
    assert!(
        answers.iter().any(|answer| answer["answer_id"] == id),
        "{}",
        customer.json
    );

    // A client's mistake on a wide table is a 400 naming the field, as on any table.
    let refused = call!(kit, service, "PATCH", &detail_path, json!({"q008": "many"}));
    assert_eq!(refused.status, 400, "{}", refused.json);
    assert!(refused.json["q008"].is_array(), "{}", refused.json);

    let deleted = call!(kit, service, "DELETE", &detail_path);
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    let gone = call!(kit, service, "GET", &detail_path);
    assert_eq!(gone.status, 404, "{}", gone.json);
}
