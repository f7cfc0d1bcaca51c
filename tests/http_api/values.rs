//! JSON types, constraint violations and concurrent duplicate creates.

use super::*;

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
    let site = get(&app, "/api/v1/alpha/site/1/").await;
    assert_eq!(
        site.json["external_ref"],
        "11111111-2222-4333-8444-555555555555"
    );
    let filtered = get(
        &app,
        "/api/v1/alpha/reading/?measured_at__gte=2024-06-01T11:00:00%2B01:00&value__lt=13",
    )
    .await;
    assert_eq!(filtered.json["count"], 1, "{}", filtered.json);
}

on_both_backends!(constraint_violations, constraint_violations_scenario);
async fn constraint_violations_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    for (method, path, body, expected) in [
        (
            Method::POST,
            "/api/v1/alpha/data_point/",
            json!({"name": "alpha-1"}),
            json!({"name": ["data point with this name already exists."]}),
        ),
        (
            Method::POST,
            "/api/v1/alpha/data_point/",
            json!({"name": "x", "site_id": 7}),
            json!({"site_id": ["Invalid pk \"7\" - object does not exist."]}),
        ),
        (
            Method::PATCH,
            "/api/v1/alpha/data_point/2/",
            json!({"name": "alpha-1"}),
            json!({"name": ["data point with this name already exists."]}),
        ),
        (
            Method::POST,
            "/api/v1/alpha/data_point_tag/",
            json!({"data_point_id": 1, "tag_id": 1}),
            json!({"non_field_errors": ["The fields data_point_id, tag_id must make a unique set."]}),
        ),
    ] {
        let reply = call(&app, method.clone(), path, Some(body.clone())).await;
        assert_eq!(
            (reply.status, reply.json),
            (400, expected),
            "{method} {path} {body}"
        );
    }
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

on_both_backends!(enumerations, enumerations_scenario);
/// A column of a named enumeration: its values as strings, DRF's ChoiceField message for any
/// other, filters `=`, `__in` and `__isnull`, ordering by the enumeration's order on PostgreSQL.
async fn enumerations_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let energy = get(&app, "/api/v1/alpha/tag/1/").await;
    assert_eq!(energy.json["kind"], "topic", "the column's default");
    let created = call(
        &app,
        Method::POST,
        "/api/v1/alpha/tag/",
        Some(json!({"label": "north", "kind": "place"})),
    )
    .await;
    assert_eq!(
        (created.status, created.json["kind"].clone()),
        (201, json!("place"))
    );
    for (kind, shown) in [
        (json!("x"), "x"),
        (json!(3), "3"),
        (json!("Topic"), "Topic"),
    ] {
        let refused = call(
            &app,
            Method::POST,
            "/api/v1/alpha/tag/",
            Some(json!({"label": "bad", "kind": kind})),
        )
        .await;
        assert_eq!(
            (refused.status, refused.json),
            (
                400,
                json!({"kind": [format!("\"{shown}\" is not a valid choice.")]})
            )
        );
    }
    let patched = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/tag/2/",
        Some(json!({"kind": "person"})),
    )
    .await;
    assert_eq!(
        (patched.status, patched.json["kind"].clone()),
        (200, json!("person"))
    );

    let labels = |reply: &Reply| -> Vec<String> {
        reply.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["label"].as_str().unwrap().to_string())
            .collect()
    };
    for (query, expected) in [
        ("kind=place", vec!["north"]),
        (
            "kind__in=place,person&ordering=label",
            vec!["billing", "north"],
        ),
        (
            "kind__isnull=false&ordering=id",
            vec!["energy", "billing", "north"],
        ),
    ] {
        let reply = get(&app, &format!("/api/v1/alpha/tag/?{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        assert_eq!(labels(&reply), expected, "{query}");
    }
    let bogus = get(&app, "/api/v1/alpha/tag/?kind=bogus").await;
    assert_eq!(
        (bogus.status, bogus.json),
        (400, json!({"kind": ["\"bogus\" is not a valid choice."]}))
    );
    for unknown in ["kind__gt=place", "kind__contains=pl"] {
        let reply = get(&app, &format!("/api/v1/alpha/tag/?{unknown}")).await;
        assert_eq!(reply.status, 400, "{unknown}");
    }
    // Ordering: the enumeration's order on PostgreSQL (topic, place, person), text on SQLite.
    let ordered = get(&app, "/api/v1/alpha/tag/?ordering=kind").await;
    let expected = match backend {
        Backend::Postgres => vec!["energy", "north", "billing"],
        Backend::Sqlite => vec!["billing", "north", "energy"],
    };
    assert_eq!(labels(&ordered), expected);
}
