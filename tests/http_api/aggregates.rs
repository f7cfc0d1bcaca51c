//! `/{table}/aggregate/` over HTTP on SQLite and PostgreSQL: counts, exact sums and averages,
//! extremes, per group and over the whole filtered table, checked against what the database's
//! own SQL computes over the same rows, with NULLs and empty results; filters, search, ordering
//! and pages of groups; its errors, its metadata and its place in the OpenAPI document.

use diesel::RunQueryDsl as _;
use diesel::sql_types::{Nullable, Text};
use serde_json::{Value, json};
use tenantapi_testkit::{Backend, TestKit, on_both_backends};

/// Readings whose values sum to what doubles get wrong (0.1 + 0.2 + 0.7), a data point
/// without readings, units and sites with NULLs.
fn kit(backend: Backend) -> TestKit {
    TestKit::builder(backend)
        .project_with_rows(
            "alpha",
            json!({
                "site": [
                    {"id": 1, "code": "N1", "name": "North", "latitude": 48.5, "is_active": true,
                     "external_ref": "11111111-2222-4333-8444-555555555555"},
                    {"id": 2, "code": "S2", "name": "South", "latitude": 12.25, "is_active": true,
                     "external_ref": "11111111-2222-4333-8444-666666666666"},
                    {"id": 3, "code": "W3", "name": "West", "latitude": null, "is_active": false,
                     "external_ref": "11111111-2222-4333-8444-777777777777"}
                ],
                "data_point": [
                    {"id": 1, "name": "boiler feed", "unit": "kWh", "site_id": 1},
                    {"id": 2, "name": "boiler return", "unit": "kWh", "site_id": 2},
                    {"id": 3, "name": "chiller", "unit": null, "site_id": 1},
                    {"id": 4, "name": "pump", "unit": "m3", "site_id": null},
                    {"id": 5, "name": "spare", "unit": null, "site_id": null}
                ],
                "reading": [
                    {"id": 1, "data_point_id": 1, "measured_at": "2024-01-01T00:00:00Z", "value": "0.1", "quality": 0},
                    {"id": 2, "data_point_id": 1, "measured_at": "2024-01-01T01:00:00Z", "value": "0.2", "quality": 0},
                    {"id": 3, "data_point_id": 1, "measured_at": "2024-01-01T02:00:00Z", "value": "0.7", "quality": 1},
                    {"id": 4, "data_point_id": 2, "measured_at": "2024-01-02T00:00:00Z", "value": "-3.333333", "quality": 0},
                    {"id": 5, "data_point_id": 2, "measured_at": "2024-01-03T00:00:00Z", "value": "10", "quality": 2},
                    {"id": 6, "data_point_id": 2, "measured_at": "2024-01-04T00:00:00Z", "value": "0.000001", "quality": 0},
                    {"id": 7, "data_point_id": 4, "measured_at": "2023-12-31T23:59:59Z", "value": "123456.789012", "quality": 0}
                ]
            }),
        )
        .superuser("tester")
        .build()
        .expect("test kit")
}

/// A statement's rows as text, each of its (up to six) values cast to text by the database.
#[derive(diesel::QueryableByName, Debug)]
struct TextRow {
    #[diesel(sql_type = Nullable<Text>)]
    c0: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c5: Option<String>,
}

impl TextRow {
    fn values(&self) -> [Option<&str>; 6] {
        [
            self.c0.as_deref(),
            self.c1.as_deref(),
            self.c2.as_deref(),
            self.c3.as_deref(),
            self.c4.as_deref(),
            self.c5.as_deref(),
        ]
    }
}

/// What the database itself answers to `sql`, whose columns are named c0..c5.
fn database_rows(kit: &TestKit, sql: &str) -> Vec<TextRow> {
    let mut connection = kit.database("alpha").connect();
    diesel::sql_query(sql)
        .load(&mut connection)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Whether the API's value is what the database computed: integers and decimals as numbers
/// (exactly on PostgreSQL; within a double's error on SQLite, whose own sums are doubles),
/// instants by their digits, NULL as null.
fn assert_same(api: &Value, database: Option<&str>, what: &str, backend: Backend) {
    let Some(database) = database else {
        assert!(
            api.is_null(),
            "{what}: the database says NULL, the API {api}"
        );
        return;
    };
    let api_text = match api {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => panic!("{what}: the API says {other}, the database {database}"),
    };
    if api_text == database {
        return;
    }
    if database.contains(':') {
        let digits =
            |text: &str| -> String { text.chars().filter(char::is_ascii_digit).take(14).collect() };
        assert_eq!(digits(&api_text), digits(database), "{what}");
        return;
    }
    let number = |text: &str| -> f64 {
        text.parse()
            .unwrap_or_else(|_| panic!("{what}: the API says {api_text}, the database {database}"))
    };
    let (api_number, database_number) = (number(&api_text), number(database));
    if backend == Backend::Postgres && !database.contains('e') {
        // numeric's text keeps trailing zeros; the API's has the column's scale.
        let trim = |text: &str| -> String {
            if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                text.to_string()
            }
        };
        assert_eq!(trim(&api_text), trim(database), "{what}");
    } else {
        let tolerance = 1e-9 * database_number.abs().max(1.0);
        assert!(
            (api_number - database_number).abs() <= tolerance,
            "{what}: the API says {api_text}, the database {database}"
        );
    }
}

on_both_backends!(aggregates_match_the_database_own_sql, database_sql_scenario);

async fn database_sql_scenario(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let get = |path: String| {
        let (kit, service) = (&kit, &service);
        async move {
            let reply = kit.call(service, "GET", &path, Some("tester"), None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.json);
            assert!(reply.headers.contains_key("x-structure-version"), "{path}");
            reply.json
        }
    };

    // Per data point: rows, an exact sum and average, extremes, distinct qualities.
    let page = get("/api/v1/alpha/reading/aggregate/?group_by=data_point_id&count=&count=distinct:quality&sum=value&avg=value&min=measured_at&max=value".into()).await;
    let groups = page["results"].as_array().unwrap();
    assert_eq!(page["count"], json!(3), "{page}");
    assert_eq!(page["next"], Value::Null);
    assert_eq!(
        groups[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "data_point_id",
            "count",
            "quality__count_distinct",
            "value__sum",
            "value__avg",
            "measured_at__min",
            "value__max"
        ]
    );
    // Exact, where doubles are not: 0.1 + 0.2 + 0.7 is 1.0 at the column's scale, and the
    // average of -3.333333, 10 and 0.000001 is 2.222222666... to 16 places.
    assert_eq!(groups[0]["value__sum"], json!("1.000000"), "{page}");
    assert_eq!(groups[0]["value__avg"], json!("0.3333333333333333"));
    assert_eq!(groups[1]["value__sum"], json!("6.666668"));
    assert_eq!(groups[1]["value__avg"], json!("2.2222226666666667"));
    assert_eq!(groups[2]["measured_at__min"], json!("2023-12-31T23:59:59Z"));
    let avg = match backend {
        Backend::Postgres => "CAST(ROUND(AVG(value), 16) AS TEXT)",
        Backend::Sqlite => "CAST(AVG(value) AS TEXT)",
    };
    let expected = database_rows(
        &kit,
        &format!(
            "SELECT CAST(data_point_id AS TEXT) AS c0, CAST(COUNT(*) AS TEXT) AS c1, \
             CAST(COUNT(DISTINCT quality) AS TEXT) AS c2, CAST(SUM(value) AS TEXT) AS c3, \
             {avg} AS c4, CAST(MIN(measured_at) AS TEXT) AS c5 \
             FROM reading GROUP BY data_point_id ORDER BY data_point_id"
        ),
    );
    assert_eq!(expected.len(), groups.len());
    let names = [
        "data_point_id",
        "count",
        "quality__count_distinct",
        "value__sum",
        "value__avg",
        "measured_at__min",
    ];
    for (group, row) in groups.iter().zip(&expected) {
        for (name, value) in names.iter().zip(row.values()) {
            assert_same(&group[name], value, name, backend);
        }
    }

    // Filters (across a foreign key too) apply before grouping; without group_by, one group.
    let filtered = get("/api/v1/alpha/reading/aggregate/?quality=0&data_point__name__startswith=boiler&count=&sum=value&max=measured_at".into()).await;
    let expected = database_rows(
        &kit,
        "SELECT CAST(COUNT(*) AS TEXT) AS c0, CAST(SUM(value) AS TEXT) AS c1, \
         CAST(MAX(measured_at) AS TEXT) AS c2, NULL AS c3, NULL AS c4, NULL AS c5 \
         FROM reading WHERE quality = 0 AND data_point_id IN \
         (SELECT id FROM data_point WHERE name LIKE 'boiler%')",
    );
    let group = &filtered["results"][0];
    assert_eq!(filtered["count"], json!(1));
    for (name, value) in ["count", "value__sum", "measured_at__max"]
        .iter()
        .zip(expected[0].values())
    {
        assert_same(&group[name], value, name, backend);
    }
    assert_eq!(group["value__sum"], json!("-3.033332"));

    // Nothing matches: no groups, or with no group_by the empty set's one (count 0, sums NULL).
    let none =
        get("/api/v1/alpha/reading/aggregate/?quality=9&group_by=data_point_id&count=".into())
            .await;
    assert_eq!(
        none,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
    let empty = get(
        "/api/v1/alpha/reading/aggregate/?quality=9&count=&sum=value&avg=value&min=value".into(),
    )
    .await;
    assert_eq!(
        empty["results"],
        json!([{"count": 0, "value__sum": null, "value__avg": null, "value__min": null}])
    );

    // A NULL group, and counts of values that skip NULLs; groups whose values are all NULL.
    let units = get("/api/v1/alpha/data_point/aggregate/?group_by=unit&count=&count=site_id&count=distinct:site_id".into()).await;
    let expected = database_rows(
        &kit,
        "SELECT unit AS c0, CAST(COUNT(*) AS TEXT) AS c1, CAST(COUNT(site_id) AS TEXT) AS c2, \
         CAST(COUNT(DISTINCT site_id) AS TEXT) AS c3, NULL AS c4, NULL AS c5 \
         FROM data_point GROUP BY unit ORDER BY unit IS NULL, unit",
    );
    let groups = units["results"].as_array().unwrap();
    assert_eq!(groups.len(), expected.len());
    for (group, row) in groups.iter().zip(&expected) {
        for (name, value) in ["unit", "count", "site_id__count", "site_id__count_distinct"]
            .iter()
            .zip(row.values())
        {
            assert_same(&group[name], value, name, backend);
        }
    }
    assert_eq!(
        groups.last().unwrap()["unit"],
        Value::Null,
        "NULLs last: {units}"
    );
    // Sums beyond a double's 15 to 17 digits stay exact on both backends, as PostgreSQL's
    // numeric keeps them; SQLite's own SUM, of doubles, loses the last digit.
    for (id, value) in [(8, "100000000000"), (9, "0.000001")] {
        let measured_at = format!("2024-02-0{id}T00:00:00Z");
        let created = kit
            .call(
                &service,
                "POST",
                "/api/v1/alpha/reading/",
                Some("tester"),
                Some(json!({"id": id, "data_point_id": 5, "measured_at": measured_at, "value": value})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.json);
    }
    let large =
        get("/api/v1/alpha/reading/aggregate/?data_point_id=5&sum=value&avg=value".into()).await;
    assert_eq!(
        large["results"],
        json!([{"value__sum": "100000000000.000001", "value__avg": "50000000000.0000005000000000"}])
    );
    let own_sum = database_rows(
        &kit,
        "SELECT CAST(SUM(value) AS TEXT) AS c0, NULL AS c1, NULL AS c2, NULL AS c3, NULL AS c4, \
         NULL AS c5 FROM reading WHERE data_point_id = 5",
    );
    match backend {
        Backend::Postgres => assert_eq!(own_sum[0].c0.as_deref(), Some("100000000000.000001")),
        Backend::Sqlite => assert_ne!(own_sum[0].c0.as_deref(), Some("100000000000.000001")),
    }

    let latitudes = get(
        "/api/v1/alpha/site/aggregate/?group_by=is_active&sum=latitude&avg=latitude&count=latitude"
            .into(),
    )
    .await;
    assert_eq!(
        latitudes["results"],
        json!([
            {"is_active": false, "latitude__sum": null, "latitude__avg": null, "latitude__count": 0},
            {"is_active": true, "latitude__sum": 60.75, "latitude__avg": 30.375, "latitude__count": 2}
        ])
    );
}

on_both_backends!(
    aggregate_groups_are_ordered_paged_and_searched,
    paging_scenario
);

async fn paging_scenario(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let get = |path: String| {
        let (kit, service) = (&kit, &service);
        async move {
            let reply = kit.call(service, "GET", &path, Some("tester"), None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.json);
            reply.json
        }
    };
    let keys = |page: &Value, name: &str| -> Vec<Value> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|group| group[name].clone())
            .collect()
    };

    // Ordered by an aggregate, descending, ties by the group field; NULLs first descending.
    let by_count = get(
        "/api/v1/alpha/reading/aggregate/?group_by=data_point_id&count=&ordering=-count".into(),
    )
    .await;
    assert_eq!(
        keys(&by_count, "data_point_id"),
        [json!(1), json!(2), json!(4)]
    );
    let by_unit =
        get("/api/v1/alpha/data_point/aggregate/?group_by=unit&count=&ordering=-unit".into()).await;
    assert_eq!(
        keys(&by_unit, "unit"),
        [Value::Null, json!("m3"), json!("kWh")]
    );
    let by_avg = get(
        "/api/v1/alpha/reading/aggregate/?group_by=data_point_id&avg=value&ordering=-value__avg"
            .into(),
    )
    .await;
    assert_eq!(
        keys(&by_avg, "data_point_id"),
        [json!(4), json!(2), json!(1)]
    );

    // Pages of groups, with DRF's links and count; past the end is DRF's 404; page=last.
    let first =
        get("/api/v1/alpha/reading/aggregate/?group_by=data_point_id&count=&page_size=2".into())
            .await;
    assert_eq!(first["count"], json!(3));
    assert_eq!(keys(&first, "data_point_id"), [json!(1), json!(2)]);
    let next = first["next"].as_str().unwrap();
    assert!(
        next.contains("/reading/aggregate/") && next.contains("page=2"),
        "{next}"
    );
    let second = get(next[next.find("/api/").unwrap()..].to_string()).await;
    assert_eq!(keys(&second, "data_point_id"), [json!(4)]);
    assert_eq!(second["next"], Value::Null);
    assert!(second["previous"].as_str().is_some());
    let last = get(
        "/api/v1/alpha/reading/aggregate/?group_by=data_point_id&count=&page_size=2&page=last"
            .into(),
    )
    .await;
    assert_eq!(last["results"], second["results"]);
    let past = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/reading/aggregate/?group_by=data_point_id&count=&page_size=2&page=3",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(past.status, 404, "{}", past.json);

    // Search applies before grouping, like filters.
    let searched =
        get("/api/v1/alpha/data_point/aggregate/?search=boiler&group_by=unit&count=".into()).await;
    assert_eq!(searched["results"], json!([{"unit": "kWh", "count": 2}]));
    // group_by alone lists the groups (distinct values).
    let distinct = get("/api/v1/alpha/data_point/aggregate/?group_by=site_id,unit".into()).await;
    assert_eq!(distinct["count"], json!(5));
    // A column named like an aggregate parameter would be filtered with __exact there.
    let booleans = get("/api/v1/alpha/site/aggregate/?is_active=true&count=".into()).await;
    assert_eq!(booleans["results"], json!([{"count": 2}]));
}

on_both_backends!(
    aggregate_mistakes_are_400s_and_the_route_is_described,
    errors_scenario
);

async fn errors_scenario(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let call = |method: &'static str, path: &str| {
        let (kit, service, path) = (&kit, &service, path.to_string());
        async move { kit.call(service, method, &path, Some("tester"), None).await }
    };
    let refused = |path: &'static str, expected: &'static [&'static str]| {
        let call = &call;
        async move {
            let reply = call("GET", path).await;
            assert_eq!(reply.status, 400, "{path}: {}", reply.json);
            let text = reply.json.to_string();
            for fragment in expected {
                assert!(text.contains(fragment), "{path}: {text} lacks {fragment}");
            }
        }
    };
    refused(
        "/api/v1/alpha/reading/aggregate/",
        &[
            "Say what to compute",
            "sum and avg take id, data_point_id, value, quality",
        ],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?sum=raw",
        &[
            "\"sum\"",
            "does not apply to \\\"raw\\\"",
            "It takes: id, data_point_id, value, quality",
        ],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?avg=measured_at",
        &["\"avg\"", "measured_at"],
    )
    .await;
    refused(
        "/api/v1/alpha/site/aggregate/?min=external_ref",
        &["\"min\"", "external_ref"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?sum=nope",
        &["\"nope\\\" is not a field of reading"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?group_by=raw&count=",
        &["\"group_by\"", "cannot be grouped by"],
    )
    .await;
    refused("/api/v1/alpha/reading/aggregate/?sum=", &["Name a field"]).await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&cursor=",
        &["cursor", "aggregates answer groups"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&fields=id",
        &["fields"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&format=csv",
        &["JSON only"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&ordering=value",
        &["Unknown ordering field(s): value", "count"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&quality=abc",
        &["quality"],
    )
    .await;
    refused(
        "/api/v1/alpha/reading/aggregate/?count=&nope=1",
        &["Unknown filter parameter(s): nope"],
    )
    .await;
    refused("/api/v1/alpha/data_point/aggregate/?group_by=site_id&count=site_id&count=distinct:site_id&sum=site_id&ordering=count", &["count"]).await;

    // Not for anyone without a grant; POST is not an aggregate's.
    let anonymous = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/reading/aggregate/?count=",
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let other = call(method, "/api/v1/alpha/reading/aggregate/").await;
        assert_eq!(other.status, 405, "{method}: {}", other.json);
        assert_eq!(other.headers.get("allow").unwrap(), "GET, HEAD, OPTIONS");
    }
    let other_missing = call("PUT", "/api/v1/alpha/nothing/aggregate/").await;
    assert_eq!(other_missing.status, 404);
    let missing = call("GET", "/api/v1/alpha/nothing/aggregate/?count=").await;
    assert_eq!(missing.status, 404);

    // OPTIONS on the route and on the list say what each parameter takes.
    let options = call("OPTIONS", "/api/v1/alpha/reading/aggregate/").await;
    assert_eq!(options.status, 200);
    let described = json!({
        "group_by": ["id", "data_point_id", "measured_at", "value", "quality", "recorded_at"],
        "count": ["id", "data_point_id", "measured_at", "value", "quality", "raw", "recorded_at"],
        "count_distinct": ["id", "data_point_id", "measured_at", "value", "quality", "recorded_at"],
        "sum": ["id", "data_point_id", "value", "quality"],
        "avg": ["id", "data_point_id", "value", "quality"],
        "min": ["id", "data_point_id", "measured_at", "value", "quality", "recorded_at"],
        "max": ["id", "data_point_id", "measured_at", "value", "quality", "recorded_at"]
    });
    assert_eq!(options.json["aggregates"], described);
    let list_options = call("OPTIONS", "/api/v1/alpha/reading/").await;
    assert_eq!(list_options.json["aggregates"], described);

    // The document has the route, its parameters and its answer's shape.
    let document = call("GET", "/api/v1/schema/").await.json;
    let operation = &document["paths"]["/{project}/reading/aggregate/"]["get"];
    let parameters: Vec<&str> = operation["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("no aggregate route in the document"))
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    for name in [
        "group_by", "count", "sum", "avg", "min", "max", "ordering", "quality",
    ] {
        assert!(
            parameters.contains(&name),
            "{name} not among {parameters:?}"
        );
    }
    let shared: Vec<&str> = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|parameter| parameter["$ref"].as_str())
        .collect();
    assert!(
        shared.contains(&"#/components/parameters/Page")
            && shared.contains(&"#/components/parameters/PageSize"),
        "{shared:?}"
    );
    assert!(operation["responses"]["200"].is_object());
}
