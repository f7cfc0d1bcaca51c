//! Reading: each route reaches its own database; DRF's pages, filters and ordering.

use super::*;

on_both_backends!(
    each_route_reaches_its_own_database,
    routes_reach_their_own_database
);
async fn routes_reach_their_own_database(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let alpha = get(&app, "/api/v1/alpha/data_point/").await;
    let beta = get(&app, "/api/v1/beta/data_point/").await;
    assert_eq!(names(&alpha), ["alpha-1", "alpha-2", "alpha-3"]);
    assert_eq!(names(&beta), ["beta-1"]);
    // The same id means a different row in each project.
    let alpha_one = get(&app, "/api/v1/alpha/data_point/1/").await;
    let beta_one = get(&app, "/api/v1/beta/data_point/1/").await;
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
        get(&app, "/api/v1/alpha/data_point/").await.json["count"],
        3
    );
    assert_eq!(get(&app, "/api/v1/beta/data_point/").await.json["count"], 2);

    let root = get(&app, "/api/v1/").await;
    assert_eq!(
        root.json,
        json!({"alpha": "http://localhost:8080/api/v1/alpha/", "beta": "http://localhost:8080/api/v1/beta/"})
    );
    let project = get(&app, "/api/v1/alpha/").await;
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
    let first = get(&app, "/api/v1/alpha/data_point/?page_size=2&ordering=-name").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["count"], 3);
    assert_eq!(first.json["previous"], Value::Null);
    assert_eq!(
        first.json["next"],
        "http://localhost:8080/api/v1/alpha/data_point/?page_size=2&ordering=-name&page=2"
    );
    assert_eq!(names(&first), ["alpha-3", "alpha-2"]);
    let second = get(
        &app,
        "/api/v1/alpha/data_point/?page_size=2&ordering=-name&page=2",
    )
    .await;
    assert_eq!(names(&second), ["alpha-1"]);
    assert_eq!(second.json["next"], Value::Null);
    assert_eq!(
        second.json["previous"],
        "http://localhost:8080/api/v1/alpha/data_point/?page_size=2&ordering=-name"
    );
    let last = get(&app, "/api/v1/alpha/data_point/?page_size=2&page=last").await;
    assert_eq!(names(&last), ["alpha-3"]);
    // Regression (found by schemathesis): a page number whose offset overflowed answered 500.
    for out_of_range in [
        "page=3&page_size=2",
        "page=0",
        "page=abc",
        "page=211264781351940160&page_size=224",
        "page=211264781351940160&page_size=224&count=none",
        "page=18446744073709551615",
        "page=4611686018427387905&page_size=2",
        "page=99999999999999999999999",
    ] {
        let reply = get(&app, &format!("/api/v1/alpha/data_point/?{out_of_range}")).await;
        assert_eq!(
            (reply.status, reply.json.clone()),
            (404, json!({"detail": "Invalid page."})),
            "{out_of_range}"
        );
    }
    let empty = get(&app, "/api/v1/alpha/data_point/?name=none").await;
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
        let reply = get(&app, &format!("/api/v1/alpha/data_point/?{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        assert_eq!(names(&reply), expected, "{query}");
    }
    let unknown = get(&app, "/api/v1/alpha/data_point/?colour=red&name__regex=x").await;
    assert_detail(&unknown, 400, |detail| {
        detail.starts_with("Unknown filter parameter(s): colour, name__regex.")
    });
    let ordering = get(&app, "/api/v1/alpha/data_point/?ordering=-colour").await;
    assert_detail(&ordering, 400, |detail| detail.contains("-colour"));
    let bad_value = get(&app, "/api/v1/alpha/data_point/?id__gt=one").await;
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
    let limit = tenantapi_runtime::http::list::MAX_PATTERN_CHARACTERS;
    for (lookup, character, length) in [
        ("icontains", "x", 60_000),
        ("contains", "*", 30_000),
        ("startswith", "?", 20_000),
        ("endswith", "%5B", limit + 1),
        ("istartswith", "_", 40_000),
    ] {
        let value = character.repeat(length);
        let reply = get(
            &app,
            &format!("/api/v1/alpha/data_point/?name__{lookup}={value}"),
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
            let reply = get(
                &app,
                &format!("/api/v1/alpha/data_point/?name__{lookup}={value}"),
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

on_both_backends!(
    filters_across_foreign_keys,
    filters_across_foreign_keys_scenario
);
/// `relation__field[__lookup]` filters on the referenced row (one level), validated like
/// every filter; rows without a referenced row never match.
async fn filters_across_foreign_keys_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let list = |query: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                Method::GET,
                &format!("/api/v1/alpha/data_point/?{query}"),
                None,
            )
            .await
        }
    };
    for (query, expected) in [
        ("site__code=A1", vec!["alpha-1", "alpha-3"]),
        ("site__code=ZZ", vec![]),
        ("site__code__in=B2,A1", vec!["alpha-1", "alpha-3"]),
        ("site__name__icontains=ALPHA", vec!["alpha-1", "alpha-3"]),
        ("site__code=A1&unit=kWh", vec!["alpha-1"]),
        ("site__code__isnull=false", vec!["alpha-1", "alpha-3"]),
        ("site__id__gte=1&ordering=-name", vec!["alpha-3", "alpha-1"]),
    ] {
        let reply = list(query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        assert_eq!(names(&reply), expected, "{query}");
        assert_eq!(reply.json["count"], expected.len(), "{query}");
    }
    let bad_value = list("site__id__gt=abc").await;
    assert_eq!(
        (bad_value.status, bad_value.json),
        (
            400,
            json!({"site__id__gt": ["A valid integer is required."]})
        )
    );
    let unknown = list("site__colour=red").await;
    assert_detail(&unknown, 400, |detail| {
        detail.starts_with("Unknown filter parameter(s): site__colour.")
    });
    // Two levels are not offered.
    assert_eq!(list("site__data_point__name=x").await.status, 400);
    // The document lists the relation's filters with the list's parameters.
    let document = get(&app, "/api/v1/schema/").await.json;
    let parameters = document["paths"]["/{project}/data_point/"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in [
        "site__code",
        "site__code__in",
        "site__name__icontains",
        "site__id__gte",
    ] {
        assert!(
            parameters.iter().any(|parameter| parameter["name"] == name),
            "{name} is not documented"
        );
    }
}

on_both_backends!(field_selection, field_selection_scenario);
/// `?fields=` and `?omit=` on lists and single rows: only the named fields, in the table's
/// order; unknown names are 400 naming them.
async fn field_selection_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let get = |path: String| {
        let app = &app;
        async move { call(app, Method::GET, &path, None).await }
    };
    let page = get("/api/v1/alpha/data_point/?fields=name,id&ordering=id".into()).await;
    assert_eq!(page.status, 200, "{}", page.json);
    assert_eq!(
        page.json["results"],
        json!([{"id": 1, "name": "alpha-1"}, {"id": 2, "name": "alpha-2"}, {"id": 3, "name": "alpha-3"}])
    );
    assert_eq!(page.json["count"], 3, "the envelope stays whole");
    let row = get("/api/v1/alpha/data_point/1/?omit=unit,site_id,type".into()).await;
    assert_eq!(
        (row.status, row.json),
        (200, json!({"id": 1, "name": "alpha-1"}))
    );
    let both = get("/api/v1/alpha/data_point/1/?fields=id,name,unit&omit=unit".into()).await;
    assert_eq!(both.json, json!({"id": 1, "name": "alpha-1"}));
    // Another selection is another representation: another ETag.
    let whole = get("/api/v1/alpha/data_point/1/".into()).await;
    assert_ne!(
        whole.headers.get(header::ETAG),
        row.headers.get(header::ETAG)
    );
    let empty = get("/api/v1/alpha/data_point/1/?fields=".into()).await;
    assert_eq!(
        empty.json, whole.json,
        "an empty selection selects nothing away"
    );
    // With a filter and a cursor page as well.
    let cursor = get("/api/v1/alpha/data_point/?cursor=&fields=name&unit=kWh".into()).await;
    assert_eq!(cursor.json["results"], json!([{"name": "alpha-1"}]));

    for path in [
        "/api/v1/alpha/data_point/?fields=id,colour",
        "/api/v1/alpha/data_point/1/?omit=colour",
    ] {
        let unknown = get(path.into()).await;
        assert_eq!(unknown.status, 400, "{path}");
        let detail = unknown.json["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("Unknown field(s) in ")
                && detail.contains("colour")
                && detail.contains("Fields of data point: id, name"),
            "{detail}"
        );
    }
}
