//! `?expand=`: foreign keys replaced by the rows they reference, nested, in one query per
//! relation and level whatever the page's size.

use super::*;

/// Statements the `alpha` project's connections ran during `request`.
async fn statements_for<S>(fixture: &TestKit, app: &Client<S>, path: &str) -> (u64, Reply)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let pool = fixture.registry().pool("alpha").expect("project alpha");
    let before = pool.statements_run();
    let reply = call(app, Method::GET, path, None).await;
    (pool.statements_run() - before, reply)
}

/// The statements that hold a read with expansions to one snapshot: its `BEGIN` and `COMMIT`.
const SNAPSHOT: u64 = 2;

on_both_backends!(expand_replaces_keys_by_rows, expand_scenario);
async fn expand_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let site = get(&app, "/api/v1/alpha/site/1/").await.json;

    let page = get(&app, "/api/v1/alpha/data_point/?expand=site&ordering=id").await;
    assert_eq!(page.status, 200, "{}", page.json);
    let results = page.json["results"].as_array().unwrap();
    assert_eq!(results[0]["site_id"], site);
    assert_eq!(results[1]["site_id"], Value::Null, "no site stays null");
    assert_eq!(results[2]["site_id"], site);
    assert_eq!(results[0]["name"], "alpha-1", "the other fields stay");
    let one = get(&app, "/api/v1/alpha/data_point/1/?expand=site").await;
    assert_eq!(one.json["site_id"], site);
    let selected = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site&fields=id,site_id",
    )
    .await;
    assert_eq!(selected.json, json!({"id": 1, "site_id": site}));
    let cursor = get(
        &app,
        "/api/v1/alpha/data_point/?cursor=&page_size=1&expand=site",
    )
    .await;
    assert_eq!(cursor.json["results"][0]["site_id"], site);
    assert!(cursor.json["next"].is_string());

    // One statement per relation and level, whatever the page's size.
    warm(&fixture, &app).await;
    let (plain, _) = statements_for(&fixture, &app, "/api/v1/alpha/data_point/").await;
    let (expanded, _) =
        statements_for(&fixture, &app, "/api/v1/alpha/data_point/?expand=site").await;
    let (expanded_one, _) = statements_for(
        &fixture,
        &app,
        "/api/v1/alpha/data_point/?expand=site&page_size=1",
    )
    .await;
    assert!(plain > 0, "the counter counts");
    assert_eq!(
        expanded,
        plain + 1 + SNAPSHOT,
        "three rows, one more statement"
    );
    assert_eq!(expanded_one, expanded, "the same for one row");

    // Nested: readings, their data points, and those data points' sites.
    let created = call(
        &app,
        Method::POST,
        "/api/v1/alpha/reading/",
        Some(json!([
            {"data_point_id": 1, "measured_at": "2024-06-01T00:00:00Z", "value": "1.5"},
            {"data_point_id": 3, "measured_at": "2024-06-01T00:00:00Z", "value": "2.5"},
            {"data_point_id": 1, "measured_at": "2024-06-02T00:00:00Z", "value": "3.5"}
        ])),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let (plain, _) = statements_for(&fixture, &app, "/api/v1/alpha/reading/?ordering=id").await;
    let (nested, reply) = statements_for(
        &fixture,
        &app,
        "/api/v1/alpha/reading/?ordering=id&expand=data_point.site",
    )
    .await;
    assert_eq!(
        nested,
        plain + 2 + SNAPSHOT,
        "two levels, two statements for three rows"
    );
    let readings = reply.json["results"].as_array().unwrap();
    assert_eq!(readings[0]["data_point_id"]["name"], "alpha-1");
    assert_eq!(readings[0]["data_point_id"]["site_id"], site);
    assert_eq!(readings[1]["data_point_id"]["name"], "alpha-3");
    let both = get(
        &app,
        "/api/v1/alpha/reading/?ordering=id&expand=data_point,data_point.site",
    )
    .await;
    assert_eq!(
        both.json["results"], reply.json["results"],
        "a prefix repeated is one expansion"
    );

    // Reverse: each data point's readings (at most 100 each, the first by key), in one
    // statement for the page.
    let (plain, _) = statements_for(&fixture, &app, "/api/v1/alpha/data_point/?ordering=id").await;
    let (reverse, reply) = statements_for(
        &fixture,
        &app,
        "/api/v1/alpha/data_point/?ordering=id&expand=reading_set",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reverse, plain + 1 + SNAPSHOT);
    let points = reply.json["results"].as_array().unwrap();
    let values = |point: &Value| -> Vec<Value> {
        point["reading_set"]
            .as_array()
            .unwrap()
            .iter()
            .map(|reading| reading["value"].clone())
            .collect()
    };
    assert_eq!(
        values(&points[0]),
        vec![json!("1.500000"), json!("3.500000")]
    );
    assert_eq!(
        values(&points[1]),
        Vec::<Value>::new(),
        "no readings: an empty list"
    );
    assert_eq!(values(&points[2]), vec![json!("2.500000")]);
    // 120 more readings for data point 3, in bodies under the kit's 4 KiB limit.
    for batch in 0..3 {
        let many: Vec<Value> = (0..40)
            .map(|n| {
                let second = batch * 40 + n;
                json!({"data_point_id": 3, "measured_at": format!("2025-01-01T00:{:02}:{:02}Z", second / 60, second % 60), "value": "1"})
            })
            .collect();
        let created = call(
            &app,
            Method::POST,
            "/api/v1/alpha/reading/",
            Some(Value::Array(many)),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.json);
    }
    let bounded = get(&app, "/api/v1/alpha/data_point/3/?expand=reading_set,site").await;
    let readings = bounded.json["reading_set"].as_array().unwrap();
    assert_eq!(readings.len(), 100, "at most 100 per row");
    assert_eq!(readings[0]["value"], "2.500000", "the first by key");
    assert_eq!(bounded.json["site_id"], site);
    // Nested through a reverse relation: each reading's data point again.
    let round_trip = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=reading_set.data_point",
    )
    .await;
    assert_eq!(
        round_trip.json["reading_set"][0]["data_point_id"]["name"],
        "alpha-1"
    );

    // Field selection reaches into expansions: `relation.field`.
    let selected = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site,reading_set&fields=id,site.code,reading_set.value",
    )
    .await;
    assert_eq!(
        selected.json,
        json!({"id": 1, "site_id": {"code": "A1"}, "reading_set": [{"value": "1.500000"}, {"value": "3.500000"}]})
    );
    // Lists sent exploded (`?fields=a&fields=b`, as some generated clients do) mean the same.
    let exploded = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site&expand=reading_set&fields=id&fields=site.code\
         &fields=reading_set.value",
    )
    .await;
    assert_eq!(exploded.json, selected.json);
    let omitted = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site&omit=site.name,unit",
    )
    .await;
    assert!(
        omitted.json["site_id"].get("name").is_none() && omitted.json["site_id"]["code"] == "A1"
    );
    assert!(omitted.json.get("unit").is_none() && omitted.json["name"] == "alpha-1");
    let unknown = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site&fields=site.colour",
    )
    .await;
    assert_detail(&unknown, 400, |detail| {
        detail.starts_with("Unknown field(s) in fields: site.colour.")
    });

    for (query, message) in [
        (
            "expand=colour",
            "Unknown relation \"colour\" in expand=colour: the relations of data point are site, reading_set, data_point_tag_set.",
        ),
        (
            "expand=site.owner",
            "Unknown relation \"owner\" in expand=site.owner: the relations of site are data_point_set, maintenance-window_set.",
        ),
        (
            "expand=a.b.c.d",
            "expand=a.b.c.d goes 4 relations deep; expansions go at most 3 deep.",
        ),
    ] {
        let refused = get(&app, &format!("/api/v1/alpha/data_point/?{query}")).await;
        assert_eq!(
            (refused.status, refused.json["detail"].clone()),
            (400, json!(message)),
            "{query}"
        );
    }
}

/// Opens the project's connection and reads once, so that counted requests find it ready
/// (a connection's first use runs the version check).
async fn warm<S>(fixture: &TestKit, app: &Client<S>)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    for _ in 0..2 {
        statements_for(fixture, app, "/api/v1/alpha/data_point/").await;
    }
}
