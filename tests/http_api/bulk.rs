//! Bulk creates: a JSON list creates every row in one transaction or none, with DRF's
//! `many=True` shapes for the answer and the errors.

use super::*;

on_both_backends!(bulk_create_is_all_or_nothing, bulk_scenario);
async fn bulk_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |config| config.api.max_bulk_items = 5);
    let app = app(&fixture).await;
    let list = "/api/v1/alpha/data_point/";
    let count = |reply: &Reply| reply.json["count"].as_u64().unwrap();
    let before = count(&call(&app, Method::GET, list, None).await);

    let created = call(
        &app,
        Method::POST,
        list,
        Some(json!([{"name": "bulk-1", "unit": "l"}, {"name": "bulk-2"}, {"name": "bulk-3", "site_id": 1}])),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(
        created.json,
        json!([
            {"id": 4, "name": "bulk-1", "unit": "l", "site_id": null, "type": "measured"},
            {"id": 5, "name": "bulk-2", "unit": null, "site_id": null, "type": "measured"},
            {"id": 6, "name": "bulk-3", "unit": null, "site_id": 1, "type": "measured"}
        ])
    );
    assert_eq!(created.headers.get(header::LOCATION), None);
    assert_eq!(
        count(&call(&app, Method::GET, list, None).await),
        before + 3
    );

    // Validation errors: one object per item, in order; nothing written.
    let invalid = call(
        &app,
        Method::POST,
        list,
        Some(json!([{"name": "ok-1"}, {"unit": "l"}, {"name": "ok-2", "colour": "red"}])),
    )
    .await;
    assert_eq!(
        (invalid.status, invalid.json),
        (
            400,
            json!([{}, {"name": ["This field is required."]}, {"colour": ["Unknown field."]}])
        )
    );
    // A database refusal (a duplicate inside the list, a missing site) names its item; the
    // rows before it are rolled back.
    for (items, failing, field) in [
        (
            json!([{"name": "dup-1"}, {"name": "fresh"}, {"name": "bulk-2"}]),
            2,
            "name",
        ),
        (json!([{"name": "twin"}, {"name": "twin"}]), 1, "name"),
        (
            json!([{"name": "fine"}, {"name": "orphan", "site_id": 99}]),
            1,
            "site_id",
        ),
    ] {
        let refused = call(&app, Method::POST, list, Some(items.clone())).await;
        assert_eq!(refused.status, 400, "{items}: {}", refused.json);
        let errors = refused.json.as_array().unwrap();
        assert_eq!(errors.len(), items.as_array().unwrap().len());
        for (index, error) in errors.iter().enumerate() {
            if index == failing {
                assert!(error[field].is_array(), "{items}: {}", refused.json);
            } else {
                assert_eq!(error, &json!({}), "{items}: {}", refused.json);
            }
        }
    }
    assert_eq!(
        count(&call(&app, Method::GET, list, None).await),
        before + 3,
        "nothing of the refused lists"
    );

    let too_many: Vec<Value> = (0..6)
        .map(|n| json!({"name": format!("many-{n}")}))
        .collect();
    let refused = call(&app, Method::POST, list, Some(Value::Array(too_many))).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            400,
            json!({"non_field_errors": ["Ensure this field has no more than 5 elements."]})
        )
    );
    let not_objects = call(&app, Method::POST, list, Some(json!(["a", 1]))).await;
    assert_eq!(not_objects.status, 400);
    assert_eq!(
        not_objects.json[0]["non_field_errors"][0],
        "Invalid data. Expected a dictionary, but got str."
    );
    let empty = call(&app, Method::POST, list, Some(json!([]))).await;
    assert_eq!((empty.status, empty.json), (201, json!([])));

    // The served document states the configured bound.
    let document = call(&app, Method::GET, "/api/v1/schema/", None).await.json;
    assert_eq!(
        document["paths"]["/{project}/data_point/"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["oneOf"][1]["maxItems"],
        5
    );
}
