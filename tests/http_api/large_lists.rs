//! Paging large lists: `?cursor=` (DRF's CursorPagination) and `?count=exact|estimated|none`.

use super::*;

/// The path and query of an absolute link, to follow it in-process.
fn path_of(link: &Value) -> String {
    link.as_str()
        .expect("a link")
        .strip_prefix("http://localhost:8080")
        .expect("links are absolute")
        .to_string()
}

fn ids(reply: &Reply) -> Vec<i64> {
    reply.json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {}", reply.json))
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect()
}

/// Seven readings with tied values and microsecond times; their ids in insertion order.
async fn seven_readings<S>(app: &Client<S>) -> Vec<i64>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut created = Vec::new();
    for (day, value) in [5, 3, 5, 1, 3, 5, 2].into_iter().enumerate() {
        let reply = call(
            app,
            Method::POST,
            "/api/v1/alpha/reading/",
            Some(json!({
                "data_point_id": 1,
                "measured_at": format!("2026-01-0{}T10:00:00.12345{}Z", day + 1, day),
                "value": format!("{value}.5"),
            })),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        created.push(reply.json["id"].as_i64().unwrap());
    }
    created
}

/// Follows `next` from `first` to the end; every page's ids.
async fn pages_forward<S>(app: &Client<S>, first: &str) -> Vec<Vec<i64>>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut pages = Vec::new();
    let mut path = first.to_string();
    loop {
        let page = call(app, Method::GET, &path, None).await;
        assert_eq!(page.status, 200, "{path}: {}", page.json);
        assert!(
            page.json.get("count").is_none(),
            "cursor pages have no count"
        );
        pages.push(ids(&page));
        if page.json["next"].is_null() {
            return pages;
        }
        path = path_of(&page.json["next"]);
        assert!(pages.len() < 20, "next links loop");
    }
}

on_both_backends!(cursor_pages_follow_drf, cursor_pages_scenario);
async fn cursor_pages_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let id = seven_readings(&app).await;
    // -value, then the primary key: 5.5 ×3, 3.5 ×2, 2.5, 1.5.
    let expected = vec![
        vec![id[0], id[2], id[5]],
        vec![id[1], id[4], id[6]],
        vec![id[3]],
    ];
    let first = "/api/v1/alpha/reading/?ordering=-value&page_size=3&cursor=";
    assert_eq!(pages_forward(&app, first).await, expected);

    // Backwards from the last page, `previous` gives the same pages in reverse.
    let mut path = first.to_string();
    let mut last = get(&app, &path).await;
    assert_eq!(
        last.json["previous"],
        Value::Null,
        "the first page has no previous"
    );
    while !last.json["next"].is_null() {
        path = path_of(&last.json["next"]);
        last = get(&app, &path).await;
    }
    let mut backwards = vec![ids(&last)];
    let mut page = last;
    while !page.json["previous"].is_null() {
        page = get(&app, &path_of(&page.json["previous"])).await;
        assert_eq!(page.status, 200, "{}", page.json);
        backwards.push(ids(&page));
    }
    backwards.reverse();
    assert_eq!(backwards, expected);

    // Microsecond times survive the round trip through a cursor.
    let by_time = pages_forward(
        &app,
        "/api/v1/alpha/reading/?ordering=measured_at&page_size=2&cursor=",
    )
    .await;
    assert_eq!(by_time.concat(), id);

    // A row inserted before the position does not shift the next page.
    let page = get(&app, first).await;
    let inserted = call(
        &app,
        Method::POST,
        "/api/v1/alpha/reading/",
        Some(json!({"data_point_id": 2, "measured_at": "2026-02-01T00:00:00Z", "value": "9.5"})),
    )
    .await;
    assert_eq!(inserted.status, 201);
    let next = get(&app, &path_of(&page.json["next"])).await;
    assert_eq!(ids(&next), expected[1]);

    // Filters apply as on numbered pages.
    let filtered = pages_forward(
        &app,
        "/api/v1/alpha/reading/?value__lt=4&ordering=-value&page_size=2&cursor=",
    )
    .await;
    assert_eq!(filtered.concat(), [id[1], id[4], id[6], id[3]]);
}

on_both_backends!(bad_cursors_are_named, bad_cursors_scenario);
async fn bad_cursors_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let page = get(&app, "/api/v1/alpha/data_point/?page_size=1&cursor=").await;
    let next = path_of(&page.json["next"]);
    let cursor = next.split("cursor=").nth(1).unwrap().to_string();
    let invalid = json!({"detail": "Invalid cursor"});
    // Changed by hand, made for another ordering, or not a cursor at all: DRF's 404.
    let mut changed = cursor.clone().into_bytes();
    changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
    for path in [
        format!(
            "/api/v1/alpha/data_point/?page_size=1&cursor={}",
            String::from_utf8(changed).unwrap()
        ),
        format!("/api/v1/alpha/data_point/?page_size=1&ordering=-id&cursor={cursor}"),
        "/api/v1/alpha/data_point/?cursor=abc".to_string(),
    ] {
        let reply = get(&app, &path).await;
        assert_eq!((reply.status, &reply.json), (404, &invalid), "{path}");
    }
    // Paging by cursor and by number at once, or by a field that may be null: 400, named.
    let both = get(&app, "/api/v1/alpha/data_point/?cursor=&page=2").await;
    assert_detail(&both, 400, |detail| detail.starts_with("Use either cursor"));
    let nullable = get(&app, "/api/v1/alpha/data_point/?cursor=&ordering=unit").await;
    assert_detail(&nullable, 400, |detail| detail.contains("unit may be null"));
}

on_both_backends!(count_modes, count_modes_scenario);
async fn count_modes_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let base = "/api/v1/alpha/data_point/?page_size=2";
    // No count: `next` from one row past the page.
    let first = get(&app, &format!("{base}&count=none")).await;
    assert_eq!(first.json["count"], Value::Null, "{}", first.json);
    assert_eq!(names(&first), ["alpha-1", "alpha-2"]);
    let second = get(&app, &path_of(&first.json["next"])).await;
    assert_eq!(
        (names(&second), &second.json["next"]),
        (vec!["alpha-3".to_string()], &Value::Null)
    );
    assert_eq!(
        path_of(&second.json["previous"]),
        format!("{base}&count=none")
    );
    let past = get(&app, &format!("{base}&count=none&page=3")).await;
    assert_eq!(
        (past.status, &past.json),
        (404, &json!({"detail": "Invalid page."}))
    );
    // Small results are counted exactly when an estimate is asked for.
    let estimated = get(&app, &format!("{base}&count=estimated")).await;
    assert_eq!(estimated.json["count"], 3);
    let unknown = get(&app, &format!("{base}&count=some")).await;
    assert_eq!(unknown.status, 400);
    let last_without_count = get(&app, &format!("{base}&count=none&page=last")).await;
    assert_eq!(last_without_count.status, 400);
}

/// On PostgreSQL a large result's count is the planner's estimate; pages stay exact.
#[actix_web::test]
async fn estimated_counts_of_large_results_come_from_the_planner() {
    let fixture = kit(Backend::Postgres, &[], |_| {});
    fixture.database("alpha").execute(
        "INSERT INTO reading (data_point_id, measured_at, value) \
         SELECT 1 + g % 3, TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 minute', g FROM generate_series(1, 30000) g; \
         ANALYZE reading",
    );
    let app = app(&fixture).await;
    let exact = get(&app, "/api/v1/alpha/reading/?page_size=10").await;
    assert_eq!(exact.json["count"], 30000);
    let estimated = get(&app, "/api/v1/alpha/reading/?page_size=10&count=estimated").await;
    let count = estimated.json["count"].as_i64().unwrap();
    assert!((25_000..=35_000).contains(&count), "estimate {count}");
    assert_eq!(ids(&estimated), ids(&exact));
    assert!(estimated.json["next"].as_str().unwrap().contains("page=2"));
    // The last page by the estimate: rows, and a previous link.
    let last = get(
        &app,
        "/api/v1/alpha/reading/?page_size=10&count=estimated&page=last",
    )
    .await;
    assert_eq!(last.status, 200, "{}", last.json);
    let last_ids = ids(&last);
    assert_eq!(
        last_ids.last(),
        Some(&30000),
        "the final rows: {last_ids:?}"
    );
    assert!(
        last_ids.windows(2).all(|pair| pair[0] < pair[1]),
        "in order: {last_ids:?}"
    );
    assert!(!last.json["previous"].is_null());
    // The exact last page, read from the end: 30,000 = 4,285 × 7 + 5 rows.
    let exact_last = get(&app, "/api/v1/alpha/reading/?page_size=7&page=last").await;
    assert_eq!(ids(&exact_last), (29996..=30000).collect::<Vec<_>>());
    assert_eq!(
        path_of(&exact_last.json["previous"]),
        "/api/v1/alpha/reading/?page_size=7&page=4285"
    );
    // A filter the planner estimates as small is counted exactly.
    let small = get(&app, "/api/v1/alpha/reading/?value__lt=100&count=estimated").await;
    assert_eq!(small.json["count"], 99);
}
