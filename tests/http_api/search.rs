//! `?search=`, DRF's `SearchFilter`, over HTTP on SQLite and PostgreSQL: the description's
//! search fields with their prefixes, a field across a foreign key, terms ANDed, combined with
//! filters, ordering, paging, cursors and shaping; its bounds and what OPTIONS and the document
//! say of it.

use serde_json::{Value, json};
use tenantapi_testkit::{Backend, TestKit, on_both_backends};

/// Sites, data points and tags whose names the searches below tell apart.
fn kit(backend: Backend) -> TestKit {
    TestKit::builder(backend)
        .project_with_rows(
            "alpha",
            json!({
                "site": [
                    {"id": 1, "code": "N1", "name": "North Station",
                     "external_ref": "11111111-2222-4333-8444-555555555555"},
                    {"id": 2, "code": "S2", "name": "South Meter Rooms",
                     "external_ref": "11111111-2222-4333-8444-666666666666"}
                ],
                "data_point": [
                    {"id": 1, "name": "boiler feed", "unit": "kWh", "site_id": 1},
                    {"id": 2, "name": "Boiler return", "unit": "kW", "site_id": 2},
                    {"id": 3, "name": "chiller", "unit": "m3", "site_id": null}
                ],
                "tag": [{"id": 1, "label": "energy"}, {"id": 2, "label": "billing"}]
            }),
        )
        .superuser("tester")
        .build()
        .expect("test kit")
}

/// The ids a list answered, in order.
fn ids(reply: &Value) -> Vec<i64> {
    reply["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {reply}"))
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect()
}

on_both_backends!(search_follows_drf, search_scenario);

async fn search_scenario(backend: Backend) {
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
    let search = |table: &str, query: &str| format!("/api/v1/alpha/{table}/?search={query}");

    // Contains, ignoring case; terms ANDed, split on spaces and commas; a field across the
    // foreign key (`site.name`).
    assert_eq!(ids(&get(search("data_point", "boiler")).await), [1, 2]);
    assert_eq!(ids(&get(search("data_point", "BOILER")).await), [1, 2]);
    assert_eq!(ids(&get(search("data_point", "boiler%20north")).await), [1]);
    assert_eq!(ids(&get(search("data_point", "boiler,south")).await), [2]);
    assert_eq!(ids(&get(search("data_point", "meter")).await), [2]);
    assert!(ids(&get(search("data_point", "boiler%20chiller")).await).is_empty());
    // `^unit`: starts with.
    assert_eq!(ids(&get(search("data_point", "kw")).await), [1, 2]);
    assert!(ids(&get(search("data_point", "wh")).await).is_empty());
    // `=code`: the whole value, ignoring case; `^name`.
    assert_eq!(ids(&get(search("site", "n1")).await), [1]);
    assert!(ids(&get(search("site", "n")).await) == [1], "^name: North");
    assert!(
        ids(&get(search("site", "1")).await).is_empty(),
        "=code is exact"
    );
    // `@name`: full text on PostgreSQL (stems: "meters" finds "Meter"), contains on SQLite.
    let meters = ids(&get(search("site", "meters")).await);
    match backend {
        Backend::Postgres => assert_eq!(meters, [2]),
        Backend::Sqlite => assert!(meters.is_empty(), "{meters:?}"),
    }
    assert_eq!(ids(&get(search("site", "rooms")).await), [2]);
    // No terms: no search, as DRF.
    assert_eq!(ids(&get(search("data_point", "%20,%20")).await), [1, 2, 3]);

    // With filters, ordering, paging, a cursor, fields and expand.
    let page = get(format!(
        "{}&ordering=-name&page_size=1",
        search("data_point", "boiler")
    ))
    .await;
    assert_eq!((page["count"].clone(), ids(&page)), (json!(2), vec![1]));
    assert!(page["next"].as_str().unwrap().contains("search=boiler"));
    assert_eq!(
        ids(&get(format!("{}&unit=kW", search("data_point", "boiler"))).await),
        [2]
    );
    let cursor = get(format!(
        "{}&cursor=&page_size=1",
        search("data_point", "boiler")
    ))
    .await;
    assert_eq!(ids(&cursor), [1]);
    let next = cursor["next"].as_str().unwrap();
    let next = &next[next.find("/api/").unwrap()..];
    assert_eq!(ids(&get(next.to_string()).await), [2]);
    let shaped = get(format!(
        "{}&fields=id,site_id&expand=site",
        search("data_point", "north")
    ))
    .await;
    assert_eq!(
        shaped["results"],
        json!([{"id": 1, "site_id": {"id": 1, "code": "N1", "name": "North Station",
            "external_ref": "11111111-2222-4333-8444-555555555555", "latitude": null,
            "longitude": null, "is_active": true, "commissioned_on": null}}])
    );
}

on_both_backends!(
    search_is_bounded_and_described,
    bounds_and_description_scenario
);

async fn bounds_and_description_scenario(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let call = |method: &'static str, path: String| {
        let (kit, service) = (&kit, &service);
        async move { kit.call(service, method, &path, Some("tester"), None).await }
    };

    let unsearchable = call("GET", "/api/v1/alpha/reading/?search=x".into()).await;
    assert_eq!(unsearchable.status, 400, "{}", unsearchable.json);
    assert!(
        unsearchable.json["detail"]
            .as_str()
            .unwrap()
            .contains("reading has no search fields"),
        "{}",
        unsearchable.json
    );
    let many = ["a"; 11].join("%20");
    let too_many = call("GET", format!("/api/v1/alpha/tag/?search={many}")).await;
    assert_eq!(too_many.status, 400);
    assert_eq!(
        too_many.json,
        json!({"search": ["Ensure this search has no more than 10 terms (words separated by spaces or commas)."]})
    );
    let long = "x".repeat(201);
    let too_long = call("GET", format!("/api/v1/alpha/tag/?search={long}")).await;
    assert_eq!(too_long.status, 400, "{}", too_long.json);
    assert!(too_long.json["search"].is_array());

    let options = call("OPTIONS", "/api/v1/alpha/data_point/".into()).await;
    assert_eq!(
        options.json["search_fields"],
        json!(["name", "^unit", "site.name"])
    );
    let plain = call("OPTIONS", "/api/v1/alpha/reading/".into()).await;
    assert!(plain.json.get("search_fields").is_none());

    let document = call("GET", "/api/v1/schema/".into()).await.json;
    let parameters = |path: &str| -> Vec<Value> {
        document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .clone()
    };
    let search = parameters("/{project}/data_point/")
        .into_iter()
        .find(|parameter| parameter["name"] == "search")
        .expect("data_point documents search");
    assert_eq!(
        search["x-search-fields"],
        json!(["name", "^unit", "site.name"])
    );
    assert!(
        parameters("/{project}/reading/")
            .iter()
            .all(|parameter| parameter["name"] != "search")
    );
}

/// The plan PostgreSQL makes for `?search=` on `tag` (one field: `label`, contains) with
/// sequential scans made as costly as it allows: whether the search can use an index.
fn tag_search_plan(kit: &TestKit, term: &str) -> String {
    use diesel::connection::SimpleConnection as _;
    use tenantapi_runtime::connections::db::BackendKind;
    use tenantapi_runtime::data::sql::SqlStatement;
    use tenantapi_runtime::http::list::{PageSettings, parse_list_request_with_relations};
    let pairs = vec![("search".to_string(), term.to_string())];
    let request = parse_list_request_with_relations(
        &tenantapi_generated::tables::tag::META,
        BackendKind::Postgres,
        &pairs,
        PageSettings {
            default_page_size: 10,
            max_page_size: 10,
        },
        &|_| None,
    )
    .expect("a valid search");
    let mut statement = SqlStatement::new();
    statement
        .sql("EXPLAIN SELECT \"id\" FROM \"tag\" WHERE ")
        .condition(&request.filter);
    let mut connection = kit.database("alpha").connect();
    connection
        .batch_execute("SET enable_seqscan = off")
        .unwrap();
    let plan: Vec<String> =
        diesel::RunQueryDsl::load(statement.returning_text(), &mut connection).unwrap();
    plan.join("\n")
}

/// Which searches an index serves is documented (docs/api.md, "Search"); this holds the one
/// for text that contains a term: a trigram index (pg_trgm) on the field.
#[actix_web::test]
async fn a_search_uses_a_trigram_index_on_postgres() {
    let kit = kit(Backend::Postgres);
    let before = tag_search_plan(&kit, "energ");
    assert!(before.contains("Seq Scan"), "no index yet:\n{before}");
    kit.database("alpha").execute(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
         CREATE INDEX tag_label_trigrams ON tag USING gin (label gin_trgm_ops); ANALYZE tag;",
    );
    let after = tag_search_plan(&kit, "energ");
    assert!(
        after.contains("tag_label_trigrams") && !after.contains("Seq Scan"),
        "the search uses the index:\n{after}"
    );
    // And the answer over HTTP is the same with the index.
    let service = kit.service().await;
    let reply = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/tag/?search=ENERG",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(ids(&reply.json), [1]);
}
