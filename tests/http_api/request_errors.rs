//! Malformed requests and validation messages, in DRF's shapes.

use super::*;

on_both_backends!(request_errors, request_errors_scenario);
async fn request_errors_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let unknown_project = get(&app, "/api/v1/gamma/data_point/").await;
    assert_eq!(
        (unknown_project.status, unknown_project.json),
        (404, json!({"detail": "Not found."}))
    );
    assert_eq!(get(&app, "/api/v1/gamma/").await.status, 404);
    assert_eq!(get(&app, "/api/v1/alpha/no_such_table/").await.status, 404);

    let not_allowed = call(
        &app,
        Method::PUT,
        "/api/v1/alpha/data_point/",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (not_allowed.status, not_allowed.json),
        (405, json!({"detail": "Method \"PUT\" not allowed."}))
    );
    assert_eq!(
        not_allowed.headers.get(header::ALLOW).unwrap(),
        "GET, POST, HEAD, OPTIONS"
    );
    let detail_not_allowed = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/1/",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        detail_not_allowed.headers.get(header::ALLOW).unwrap(),
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    let read_only = call(
        &app,
        Method::POST,
        "/api/v1/alpha/schema_version/",
        Some(json!({"version": "x"})),
    )
    .await;
    assert_eq!(
        (read_only.status, read_only.json),
        (405, json!({"detail": "Method \"POST\" not allowed."}))
    );
    assert_eq!(
        read_only.headers.get(header::ALLOW).unwrap(),
        "GET, HEAD, OPTIONS"
    );

    let malformed = send(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/alpha/data_point/")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{\"name\": "),
    )
    .await;
    assert_detail(&malformed, 400, |detail| {
        detail.starts_with("JSON parse error - ")
    });

    let not_json = send(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/alpha/data_point/")
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload("name=x"),
    )
    .await;
    assert_eq!(
        (not_json.status, not_json.json),
        (
            415,
            json!({"detail": "Unsupported media type \"text/plain\" in request."})
        )
    );

    let too_large = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"name": "x".repeat(5000)})),
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/alpha/data_point/?name=alpha-1",
            None
        )
        .await
        .json["count"],
        1,
        "nothing written"
    );

    let redirect = get(&app, "/api/v1/alpha/data_point?unit=kWh").await;
    assert_eq!(redirect.status, 301);
    assert_eq!(
        redirect.headers.get(header::LOCATION).unwrap(),
        "/api/v1/alpha/data_point/?unit=kWh"
    );
}

on_both_backends!(validation_messages, validation_messages_scenario);
async fn validation_messages_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"unit": "x".repeat(21), "site_id": "one", "colour": 1})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json),
        (
            400,
            json!({
                "colour": ["Unknown field."],
                "name": ["This field is required."],
                "site_id": ["A valid integer is required."],
                "unit": ["Ensure this field has no more than 20 characters."],
            })
        )
    );
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"name": null})),
    )
    .await;
    assert_eq!(reply.json, json!({"name": ["This field may not be null."]}));
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/site/",
        Some(json!({"code": "S", "name": "n", "external_ref": "nope", "is_active": "perhaps", "latitude": "north", "commissioned_on": "01.02.2024"})),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({
            "commissioned_on": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."],
            "external_ref": ["Must be a valid UUID."],
            "is_active": ["Must be a valid boolean."],
            "latitude": ["A valid number is required."],
        })
    );
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/reading/",
        Some(json!({"data_point_id": 1, "measured_at": "noon", "value": "1.1234567"})),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({
            "measured_at": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
            "value": ["Ensure that there are no more than 6 decimal places."],
        })
    );
    // A list is a bulk create on POST (each item must be an object), and wrong anywhere else.
    let expected_object =
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]});
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json),
        (
            400,
            json!([expected_object, expected_object, expected_object])
        )
    );
    let reply = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point/1/",
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json),
        (
            400,
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        )
    );
}

/// Tables are found by name in one route, not route by route: an unknown table and a method a
/// table does not serve must still answer 404 and 405 before credentials are looked at.
#[actix_web::test]
async fn unknown_tables_and_unserved_methods_answer_before_authentication() {
    let fixture = kit(Backend::Sqlite, &[], |_| {});
    let service = fixture.service().await;
    let anonymous = |method: &str, path: &str| request(method, path, None, None);
    let unknown = tenantapi_testkit::send(&service, anonymous("GET", "/api/v1/alpha/nope/")).await;
    assert_eq!(
        (unknown.status, unknown.json),
        (404, json!({"detail": "Not found."}))
    );
    let unknown_item =
        tenantapi_testkit::send(&service, anonymous("DELETE", "/api/v1/alpha/nope/1/")).await;
    assert_eq!(unknown_item.status, 404);
    let read_only =
        tenantapi_testkit::send(&service, anonymous("POST", "/api/v1/alpha/schema_version/")).await;
    assert_eq!(read_only.status, 405);
    assert_eq!(
        read_only.headers.get(header::ALLOW).unwrap(),
        "GET, HEAD, OPTIONS"
    );
    let trace =
        tenantapi_testkit::send(&service, anonymous("TRACE", "/api/v1/alpha/data_point/1/")).await;
    assert_eq!(
        (trace.status, trace.json),
        (405, json!({"detail": "Method \"TRACE\" not allowed."}))
    );
    // A served method on a known table does need credentials.
    let anonymous_read =
        tenantapi_testkit::send(&service, anonymous("GET", "/api/v1/alpha/data_point/")).await;
    assert_eq!(anonymous_read.status, 401);
}
