//! Creates, updates and deletes: DRF's status codes, headers and bodies.

use super::*;

on_both_backends!(crud_status_codes, crud_status_codes_scenario);
async fn crud_status_codes_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let created = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"name": "alpha-4", "unit": "l"})),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json,
        json!({"id": 4, "name": "alpha-4", "unit": "l", "site_id": null, "type": "measured"})
    );
    assert_eq!(
        created.headers.get(header::LOCATION).unwrap(),
        "http://localhost:8080/api/v1/alpha/data_point/4/"
    );

    let fetched = get(&app, "/api/v1/alpha/data_point/4/").await;
    assert_eq!(
        (fetched.status, fetched.json.clone()),
        (200, created.json.clone())
    );

    // PUT what was read, changed: the read-only id is ignored, not rejected.
    let mut replacement = fetched.json.clone();
    replacement["name"] = json!("alpha-four");
    replacement["id"] = json!(999);
    let updated = call(
        &app,
        Method::PUT,
        "/api/v1/alpha/data_point/4/",
        Some(replacement),
    )
    .await;
    assert_eq!(
        (
            updated.status,
            updated.json["id"].clone(),
            updated.json["name"].clone()
        ),
        (200, json!(4), json!("alpha-four"))
    );
    let incomplete = call(
        &app,
        Method::PUT,
        "/api/v1/alpha/data_point/4/",
        Some(json!({"unit": "l"})),
    )
    .await;
    assert_eq!(
        (incomplete.status, incomplete.json),
        (400, json!({"name": ["This field is required."]}))
    );

    let patched = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point/4/",
        Some(json!({"unit": null})),
    )
    .await;
    assert_eq!(
        (
            patched.status,
            patched.json["unit"].clone(),
            patched.json["name"].clone()
        ),
        (200, Value::Null, json!("alpha-four"))
    );
    let empty_patch = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point/4/",
        Some(json!({})),
    )
    .await;
    assert_eq!((empty_patch.status, empty_patch.json), (200, patched.json));

    let deleted = call(&app, Method::DELETE, "/api/v1/alpha/data_point/4/", None).await;
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    for method in [Method::GET, Method::DELETE] {
        let missing = call(&app, method.clone(), "/api/v1/alpha/data_point/4/", None).await;
        assert_eq!(
            (missing.status, missing.json),
            (404, json!({"detail": "Not found."})),
            "{method}"
        );
    }
    let missing_patch = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point/4/",
        Some(json!({"unit": "x"})),
    )
    .await;
    assert_eq!(missing_patch.status, 404);
    let malformed_key = get(&app, "/api/v1/alpha/data_point/abc/").await;
    assert_eq!(
        (malformed_key.status, malformed_key.json),
        (404, json!({"detail": "Not found."}))
    );

    // Composite keys: values in key order, comma-separated.
    let link = get(&app, "/api/v1/alpha/data_point_tag/1,2/").await;
    assert_eq!((link.status, link.json["tag_id"].clone()), (200, json!(2)));
    let new_link = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point_tag/",
        Some(json!({"data_point_id": 2, "tag_id": 1})),
    )
    .await;
    assert_eq!(
        new_link.headers.get(header::LOCATION).unwrap(),
        "http://localhost:8080/api/v1/alpha/data_point_tag/2,1/"
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/api/v1/alpha/data_point_tag/2,1/",
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        get(&app, "/api/v1/alpha/data_point_tag/1/").await.status,
        404
    );

    // Changing a key column moves the row: the answer is the row under its new key.
    let moved = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point_tag/1,2/",
        Some(json!({"data_point_id": 3})),
    )
    .await;
    assert_eq!(
        (
            moved.status,
            moved.json["data_point_id"].clone(),
            moved.json["tag_id"].clone()
        ),
        (200, json!(3), json!(2))
    );
    assert_eq!(
        get(&app, "/api/v1/alpha/data_point_tag/3,2/").await.status,
        200
    );
    assert_eq!(
        get(&app, "/api/v1/alpha/data_point_tag/1,2/").await.status,
        404
    );
    // A generated key is read back for the created row, also when the table is empty.
    let tag = call(
        &app,
        Method::POST,
        "/api/v1/beta/tag/",
        Some(json!({"label": "first in beta"})),
    )
    .await;
    assert_eq!(
        (
            tag.status,
            tag.json["id"].clone(),
            tag.json["weight"].clone()
        ),
        (201, json!(1), json!(1.0))
    );
}

on_both_backends!(
    a_delete_that_a_set_null_into_a_not_null_column_refuses_is_400_naming_the_table,
    set_null_into_not_null_scenario
);
/// Issue 25: real databases hold `NOT NULL REFERENCES ... ON DELETE SET NULL` (the databases
/// accept it); a delete of a referenced row then fails on the referencing column. The answer is
/// DRF's 400 naming the referencing table, and the row stays.
async fn set_null_into_not_null_scenario(backend: Backend) {
    let database = TestDatabase::empty(backend);
    let ddl = match backend {
        Backend::Postgres => tenantapi_generated::ddl::POSTGRES,
        Backend::Sqlite => tenantapi_generated::ddl::SQLITE,
    };
    let strict = ddl.replace("\"site_id\" INTEGER,\n", "\"site_id\" INTEGER NOT NULL,\n");
    assert_ne!(strict, ddl, "data_point.site_id is declared NOT NULL");
    database.execute(&strict);
    database.execute(tenantapi_generated::INSERT_VERSION_SQL);
    database.execute(
        "INSERT INTO site (id, code, name, external_ref) VALUES \
         (1, 'S1', 'one', '00000000-0000-4000-8000-000000000001'); \
         INSERT INTO data_point (id, name, site_id) VALUES (1, 'held', 1);",
    );
    let fixture = kit(backend, &[("strict", &database.url)], |_| {});
    let app = app(&fixture).await;
    let refused = call(&app, Method::DELETE, "/api/v1/strict/site/1/", None).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            400,
            json!({"non_field_errors": ["This site cannot be deleted: rows of data_point reference it through a column that may not be null."]})
        )
    );
    assert_eq!(get(&app, "/api/v1/strict/site/1/").await.status, 200);
}

on_both_backends!(
    a_written_real_is_answered_as_the_list_shows_it,
    written_real_scenario
);
/// A regression: a write's answer made its row a `serde_json::Value` straight from the typed
/// row, which holds a real column's `f32` as the `f64` it widens to: 0.1 was answered as
/// 0.10000000149011612 by POST, PUT and PATCH, while every read showed 0.1.
async fn written_real_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let created = call(
        &app,
        Method::POST,
        "/api/v1/alpha/tag/",
        Some(json!({"label": "tenth", "weight": 0.1})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["weight"], json!(0.1), "{}", created.json);
    let id = created.json["id"].as_i64().unwrap();
    let fetched = get(&app, &format!("/api/v1/alpha/tag/{id}/")).await;
    assert_eq!(fetched.json, created.json);
    let patched = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/alpha/tag/{id}/"),
        Some(json!({"weight": 0.3})),
    )
    .await;
    assert_eq!(patched.json["weight"], json!(0.3), "{}", patched.json);
    let bulk = call(
        &app,
        Method::POST,
        "/api/v1/alpha/tag/",
        Some(json!([{"label": "fifth", "weight": 0.2}])),
    )
    .await;
    assert_eq!(bulk.json[0]["weight"], json!(0.2), "{}", bulk.json);
}
