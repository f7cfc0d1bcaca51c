//! The HTTP contract of the generated API, over HTTP, on SQLite and on PostgreSQL: two projects
//! with different rows behind one set of routes, DRF's paging, filters, status codes and
//! messages, constraint errors under concurrent writes, and an unavailable project.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::test;
use serde_json::{Value, json};
use tenantapi_server::config::Config;
use tenantapi_server::platform;
use tenantapi_testkit::{Backend, Reply, TestDatabase, TestKit, on_both_backends, request};

/// Two projects, `alpha` and `beta`, on `backend`, with the rows of `fixtures/*.json`, and a
/// superuser whose token every request carries (these tests are about the API, not access).
fn kit(
    backend: Backend,
    extra_projects: &[(&str, &str)],
    configure: impl FnOnce(&mut Config),
) -> TestKit {
    let mut builder = TestKit::builder(backend)
        .project(
            "alpha",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/alpha.json")),
        )
        .project(
            "beta",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/beta.json")),
        )
        .superuser("tester")
        .configure(|config| {
            config.api.max_page_size = 200;
            config.api.max_body_bytes = 4096;
            configure(config);
        });
    for (name, url) in extra_projects {
        builder = builder.external_project(name, url);
    }
    builder.build().expect("test kit")
}

/// The in-process app and the token every request carries.
struct Client<S> {
    service: S,
    authorization: String,
}

async fn app(
    kit: &TestKit,
) -> Client<impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>>
{
    Client {
        service: kit.service().await,
        authorization: format!("Token {}", kit.token("tester")),
    }
}

async fn call<S>(app: &Client<S>, method: Method, path: &str, body: Option<Value>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    tenantapi_testkit::send(
        &app.service,
        request(method.as_str(), path, Some(&app.authorization), body),
    )
    .await
}

async fn send<S>(app: &Client<S>, request: test::TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let request = request.insert_header((header::AUTHORIZATION, app.authorization.clone()));
    tenantapi_testkit::send(&app.service, request).await
}

fn names(reply: &Reply) -> Vec<String> {
    reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_backends!(
    each_route_reaches_its_own_database,
    routes_reach_their_own_database
);
async fn routes_reach_their_own_database(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let alpha = call(&app, Method::GET, "/api/v1/alpha/data_point/", None).await;
    let beta = call(&app, Method::GET, "/api/v1/beta/data_point/", None).await;
    assert_eq!(names(&alpha), ["alpha-1", "alpha-2", "alpha-3"]);
    assert_eq!(names(&beta), ["beta-1"]);
    // The same id means a different row in each project.
    let alpha_one = call(&app, Method::GET, "/api/v1/alpha/data_point/1/", None).await;
    let beta_one = call(&app, Method::GET, "/api/v1/beta/data_point/1/", None).await;
    assert_eq!(
        (
            alpha_one.json["name"].as_str(),
            beta_one.json["name"].as_str()
        ),
        (Some("alpha-1"), Some("beta-1"))
    );
    // A write to one project is invisible in the other.
    let created = call(
        &app,
        Method::POST,
        "/api/v1/beta/data_point/",
        Some(json!({"name": "beta-2"})),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        call(&app, Method::GET, "/api/v1/alpha/data_point/", None)
            .await
            .json["count"],
        3
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/beta/data_point/", None)
            .await
            .json["count"],
        2
    );

    let root = call(&app, Method::GET, "/api/v1/", None).await;
    assert_eq!(
        root.json,
        json!({"alpha": "http://localhost:8080/api/v1/alpha/", "beta": "http://localhost:8080/api/v1/beta/"})
    );
    let project = call(&app, Method::GET, "/api/v1/alpha/", None).await;
    assert_eq!(
        project.json["data_point"],
        "http://localhost:8080/api/v1/alpha/data_point/"
    );
    assert_eq!(
        project.json.as_object().unwrap().len(),
        tenantapi_generated::TABLES.len()
    );
}

on_both_backends!(pages_follow_drf, pages_follow_drf_scenario);
async fn pages_follow_drf_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let first = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?page_size=2&ordering=-name",
        None,
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["count"], 3);
    assert_eq!(first.json["previous"], Value::Null);
    assert_eq!(
        first.json["next"],
        "http://localhost:8080/api/v1/alpha/data_point/?page_size=2&ordering=-name&page=2"
    );
    assert_eq!(names(&first), ["alpha-3", "alpha-2"]);
    let second = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?page_size=2&ordering=-name&page=2",
        None,
    )
    .await;
    assert_eq!(names(&second), ["alpha-1"]);
    assert_eq!(second.json["next"], Value::Null);
    assert_eq!(
        second.json["previous"],
        "http://localhost:8080/api/v1/alpha/data_point/?page_size=2&ordering=-name"
    );
    let last = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?page_size=2&page=last",
        None,
    )
    .await;
    assert_eq!(names(&last), ["alpha-3"]);
    for out_of_range in ["page=3&page_size=2", "page=0", "page=abc"] {
        let reply = call(
            &app,
            Method::GET,
            &format!("/api/v1/alpha/data_point/?{out_of_range}"),
            None,
        )
        .await;
        assert_eq!(
            (reply.status, reply.json.clone()),
            (404, json!({"detail": "Invalid page."})),
            "{out_of_range}"
        );
    }
    let empty = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?name=none",
        None,
    )
    .await;
    assert_eq!(
        (
            empty.status,
            empty.json["count"].clone(),
            empty.json["results"].clone()
        ),
        (200, json!(0), json!([]))
    );
}

on_both_backends!(filters_and_ordering, filters_and_ordering_scenario);
async fn filters_and_ordering_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    for (query, expected) in [
        ("name=alpha-2", vec!["alpha-2"]),
        ("name__in=alpha-1,alpha-3", vec!["alpha-1", "alpha-3"]),
        ("id__gt=1&id__lte=2", vec!["alpha-2"]),
        ("id__gte=2&ordering=-id", vec!["alpha-3", "alpha-2"]),
        ("id__lt=2", vec!["alpha-1"]),
        ("unit__isnull=true", vec!["alpha-2"]),
        (
            "unit__isnull=false&ordering=unit",
            vec!["alpha-1", "alpha-3"],
        ),
        ("name__contains=pha-3", vec!["alpha-3"]),
        ("name__icontains=ALPHA-1", vec!["alpha-1"]),
        (
            "name__startswith=alpha",
            vec!["alpha-1", "alpha-2", "alpha-3"],
        ),
        ("name__istartswith=ALP&unit=kWh", vec!["alpha-1"]),
        ("name__endswith=-2", vec!["alpha-2"]),
        ("site_id=1&ordering=-unit,name", vec!["alpha-3", "alpha-1"]),
        ("format=json&name=alpha-1", vec!["alpha-1"]),
    ] {
        let reply = call(
            &app,
            Method::GET,
            &format!("/api/v1/alpha/data_point/?{query}"),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        assert_eq!(names(&reply), expected, "{query}");
    }
    let unknown = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?colour=red&name__regex=x",
        None,
    )
    .await;
    assert_eq!(unknown.status, 400);
    let detail = unknown.json["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Unknown filter parameter(s): colour, name__regex."),
        "{detail}"
    );
    let ordering = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?ordering=-colour",
        None,
    )
    .await;
    assert_eq!(ordering.status, 400);
    assert!(
        ordering.json["detail"]
            .as_str()
            .unwrap()
            .contains("-colour")
    );
    let bad_value = call(
        &app,
        Method::GET,
        "/api/v1/alpha/data_point/?id__gt=one",
        None,
    )
    .await;
    assert_eq!(
        (bad_value.status, bad_value.json),
        (400, json!({"id__gt": ["A valid integer is required."]}))
    );
}

on_both_backends!(
    long_text_filter_values_are_400_not_500,
    long_text_filter_values_scenario
);
/// Regression: SQLite refuses LIKE and GLOB patterns over 50,000 bytes, and GLOB escaping
/// triples `*`; `?name__icontains=` with 60,000 characters and `?name__contains=` with 30,000
/// `*` answered 500.
async fn long_text_filter_values_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let limit = tenantapi_runtime::list::MAX_PATTERN_CHARACTERS;
    for (lookup, character, length) in [
        ("icontains", "x", 60_000),
        ("contains", "*", 30_000),
        ("startswith", "?", 20_000),
        ("endswith", "%5B", limit + 1),
        ("istartswith", "_", 40_000),
    ] {
        let value = character.repeat(length);
        let reply = call(
            &app,
            Method::GET,
            &format!("/api/v1/alpha/data_point/?name__{lookup}={value}"),
            None,
        )
        .await;
        assert_eq!(
            (reply.status, reply.json),
            (
                400,
                json!({format!("name__{lookup}"): [format!("Ensure this value has no more than {limit} characters.")]})
            ),
            "{lookup} with {length} of {character}"
        );
    }
    // At the limit, the worst cases for escaping still reach the database and answer (a URI
    // holds at most 64 KiB, hence fewer 3-byte characters).
    for (character, length) in [
        ("*", limit),
        ("%25", limit),
        ("%5B", limit),
        ("%E2%82%AC", 7_000),
    ] {
        let value = character.repeat(length);
        for lookup in ["contains", "icontains", "startswith", "endswith"] {
            let reply = call(
                &app,
                Method::GET,
                &format!("/api/v1/alpha/data_point/?name__{lookup}={value}"),
                None,
            )
            .await;
            assert_eq!(
                (reply.status, reply.json["count"].clone()),
                (200, json!(0)),
                "{lookup} with {length} of {character}"
            );
        }
    }
}

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

    let fetched = call(&app, Method::GET, "/api/v1/alpha/data_point/4/", None).await;
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
    let malformed_key = call(&app, Method::GET, "/api/v1/alpha/data_point/abc/", None).await;
    assert_eq!(
        (malformed_key.status, malformed_key.json),
        (404, json!({"detail": "Not found."}))
    );

    // Composite keys: values in key order, comma-separated.
    let link = call(&app, Method::GET, "/api/v1/alpha/data_point_tag/1,2/", None).await;
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
        call(&app, Method::GET, "/api/v1/alpha/data_point_tag/1/", None)
            .await
            .status,
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
        call(&app, Method::GET, "/api/v1/alpha/data_point_tag/3,2/", None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/alpha/data_point_tag/1,2/", None)
            .await
            .status,
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

on_both_backends!(request_errors, request_errors_scenario);
async fn request_errors_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let unknown_project = call(&app, Method::GET, "/api/v1/gamma/data_point/", None).await;
    assert_eq!(
        (unknown_project.status, unknown_project.json),
        (404, json!({"detail": "Not found."}))
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/gamma/", None).await.status,
        404
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/alpha/no_such_table/", None)
            .await
            .status,
        404
    );

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
        "GET, POST, HEAD"
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
        "GET, PUT, PATCH, DELETE, HEAD"
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
    assert_eq!(read_only.headers.get(header::ALLOW).unwrap(), "GET, HEAD");

    let malformed = send(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/alpha/data_point/")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{\"name\": "),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{}",
        malformed.json
    );

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

    let redirect = call(&app, Method::GET, "/api/v1/alpha/data_point?unit=kWh", None).await;
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
    let reply = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

on_both_backends!(json_types, json_types_scenario);
async fn json_types_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let reading = call(
        &app,
        Method::POST,
        "/api/v1/alpha/reading/",
        Some(json!({"data_point_id": 1, "measured_at": "2024-06-01T12:00:00+02:00", "value": 12.5, "raw": "3q2+7w=="})),
    )
    .await;
    assert_eq!(reading.status, 201, "{}", reading.json);
    assert_eq!(
        reading.json["value"], "12.500000",
        "numeric as an exact string"
    );
    assert_eq!(
        reading.json["measured_at"], "2024-06-01T10:00:00Z",
        "timestamptz as RFC 3339 UTC"
    );
    assert_eq!(reading.json["raw"], "3q2+7w==", "bytes as base64");
    let window = call(
        &app,
        Method::POST,
        "/api/v1/alpha/maintenance-window/",
        Some(json!({"site_id": 1, "starts_at": "2024-07-01T06:00:00", "ticket": "ABCDEF01-2345-4789-8abc-def012345678", "details": {"a": [1, "two", null]}, "self": "me"})),
    )
    .await;
    assert_eq!(window.status, 201, "{}", window.json);
    assert_eq!(
        window.json["ticket"], "abcdef01-2345-4789-8abc-def012345678",
        "uuid as a lowercase string"
    );
    assert_eq!(
        window.json["details"],
        json!({"a": [1, "two", null]}),
        "json as is"
    );
    assert_eq!(
        window.json["self"], "me",
        "keyword column under its SQL name"
    );
    let site = call(&app, Method::GET, "/api/v1/alpha/site/1/", None).await;
    assert_eq!(
        site.json["external_ref"],
        "11111111-2222-4333-8444-555555555555"
    );
    let filtered = call(
        &app,
        Method::GET,
        "/api/v1/alpha/reading/?measured_at__gte=2024-06-01T11:00:00%2B01:00&value__lt=13",
        None,
    )
    .await;
    assert_eq!(filtered.json["count"], 1, "{}", filtered.json);
}

on_both_backends!(constraint_violations, constraint_violations_scenario);
async fn constraint_violations_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let duplicate = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"name": "alpha-1"})),
    )
    .await;
    assert_eq!(
        (duplicate.status, duplicate.json),
        (
            400,
            json!({"name": ["data point with this name already exists."]})
        )
    );
    let dangling = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/",
        Some(json!({"name": "x", "site_id": 7})),
    )
    .await;
    assert_eq!(
        (dangling.status, dangling.json),
        (
            400,
            json!({"site_id": ["Invalid pk \"7\" - object does not exist."]})
        )
    );
    let renamed = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/data_point/2/",
        Some(json!({"name": "alpha-1"})),
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.json),
        (
            400,
            json!({"name": ["data point with this name already exists."]})
        )
    );
    let link = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point_tag/",
        Some(json!({"data_point_id": 1, "tag_id": 1})),
    )
    .await;
    assert_eq!(
        (link.status, link.json),
        (
            400,
            json!({"non_field_errors": ["The fields data_point_id, tag_id must make a unique set."]})
        )
    );
    let window = call(
        &app,
        Method::POST,
        "/api/v1/alpha/maintenance-window/",
        Some(json!({"site_id": 1, "starts_at": "2024-01-01T00:00:00"})),
    )
    .await;
    assert_eq!(window.status, 201);
    let restricted = call(&app, Method::DELETE, "/api/v1/alpha/site/1/", None).await;
    assert_eq!(restricted.status, 400);
    assert!(
        restricted.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("This site cannot be deleted"),
        "{}",
        restricted.json
    );
}

on_both_backends!(
    concurrent_duplicate_creates,
    concurrent_duplicate_creates_scenario
);
async fn concurrent_duplicate_creates_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let attempts = (0..8).map(|_| {
        call(
            &app,
            Method::POST,
            "/api/v1/alpha/data_point/",
            Some(json!({"name": "contended"})),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 400, 400, 400, 400, 400, 400, 400]);
    for reply in replies.iter().filter(|reply| reply.status == 400) {
        assert_eq!(
            reply.json,
            json!({"name": ["data point with this name already exists."]})
        );
    }
}

on_both_backends!(
    unavailable_project_answers_503,
    unavailable_project_scenario
);
async fn unavailable_project_scenario(backend: Backend) {
    // Nothing listens on port 9: the connection is refused at once.
    let fixture = kit(
        backend,
        &[("down", "postgres://postgres@127.0.0.1:9/nothing")],
        |config| {
            config.pool.checkout_timeout_ms = 300;
        },
    );
    let app = app(&fixture).await;
    let down = call(&app, Method::GET, "/api/v1/down/data_point/", None).await;
    assert_eq!(down.status, 503);
    assert_eq!(
        down.json,
        json!({"detail": "The project database is unavailable. Try again later."})
    );
    assert_eq!(down.headers.get(header::RETRY_AFTER).unwrap(), "5");
    assert!(
        !down
            .body
            .windows(4)
            .any(|window| window == b"5432" || window == b"127."),
        "no URL in the answer"
    );
    let alpha = call(&app, Method::GET, "/api/v1/alpha/data_point/", None).await;
    assert_eq!(alpha.status, 200, "other projects keep serving");
}

#[actix_web::test]
async fn platform_database_migrates_on_postgres() {
    let database = TestDatabase::postgres();
    let (mut connection, applied) = platform::open_and_migrate(&database.url).unwrap();
    assert_eq!(applied, ["20261126000001", "20261126000002"]);
    assert!(
        platform::migrate(&mut connection).unwrap().is_empty(),
        "a second run applies nothing"
    );
    assert_eq!(
        platform::add_project(&mut connection, "acme", "a.db").unwrap(),
        platform::AddOutcome::Added
    );
    let projects = platform::enabled_projects(&mut connection).unwrap();
    assert_eq!(
        projects
            .iter()
            .map(|project| project.name.as_str())
            .collect::<Vec<_>>(),
        ["acme"]
    );
}

on_both_backends!(
    hosts_outside_allowed_hosts_are_refused,
    allowed_hosts_scenario
);
async fn allowed_hosts_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |config| {
        config.api.allowed_hosts = vec!["api.example.com".into()]
    });
    let app = app(&fixture).await;
    let request = |host: &'static str| {
        test::TestRequest::get()
            .uri("/api/v1/alpha/data_point/?page_size=1")
            .insert_header((header::HOST, host))
    };
    let refused = send(&app, request("evil.example.net")).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            400,
            json!({"detail": "Invalid host \"evil.example.net\": it is not in api.allowed_hosts."})
        )
    );
    let allowed = send(&app, request("api.example.com:8443")).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.json["next"],
        "http://api.example.com:8443/api/v1/alpha/data_point/?page_size=1&page=2"
    );
    // /readyz honours it too.
    let readiness = |host: &'static str| {
        test::TestRequest::get()
            .uri("/readyz")
            .insert_header((header::HOST, host))
    };
    assert_eq!(send(&app, readiness("evil.example.net")).await.status, 400);
    assert_eq!(send(&app, readiness("api.example.com")).await.status, 200);
}
