//! Conditional requests: ETags on rows and pages, 304 for `If-None-Match`, 412 for an
//! `If-Match` that no longer holds, and the lost update they prevent.

use super::*;

fn etag(reply: &Reply) -> String {
    reply
        .headers
        .get(header::ETAG)
        .unwrap_or_else(|| panic!("no ETag on a {} reply", reply.status))
        .to_str()
        .unwrap()
        .to_string()
}

fn with_header(
    method: Method,
    path: &str,
    name: header::HeaderName,
    value: &str,
    body: Option<Value>,
) -> test::TestRequest {
    request(method.as_str(), path, None, body).insert_header((name, value.to_string()))
}

on_both_backends!(etags_and_not_modified, etags_and_not_modified_scenario);
async fn etags_and_not_modified_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let row = "/api/v1/alpha/data_point/1/";
    let read = get(&app, row).await;
    assert_eq!(read.status, 200);
    let tag = etag(&read);
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34,
        "{tag}"
    );
    assert_eq!(etag(&get(&app, row).await), tag, "stable");
    // Another project's row 1 is another representation.
    assert_ne!(etag(&get(&app, "/api/v1/beta/data_point/1/").await), tag);

    for unless in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".into(),
    ] {
        let cached = send(
            &app,
            with_header(Method::GET, row, header::IF_NONE_MATCH, &unless, None),
        )
        .await;
        assert_eq!(cached.status, 304, "If-None-Match: {unless}");
        assert!(cached.body.is_empty());
        assert_eq!(etag(&cached), tag);
    }
    let changed = send(
        &app,
        with_header(Method::GET, row, header::IF_NONE_MATCH, "\"other\"", None),
    )
    .await;
    assert_eq!(
        (changed.status, changed.json.clone()),
        (200, read.json.clone())
    );
    let malformed = send(
        &app,
        with_header(Method::GET, row, header::IF_NONE_MATCH, "not-quoted", None),
    )
    .await;
    assert_detail(&malformed, 400, |detail| {
        detail.starts_with("Invalid If-None-Match header")
    });

    // A page has a weak ETag; it changes with any of its rows.
    let list = "/api/v1/alpha/data_point/";
    let page = get(&app, list).await;
    let page_tag = etag(&page);
    assert!(page_tag.starts_with("W/\""), "{page_tag}");
    let cached = send(
        &app,
        with_header(Method::GET, list, header::IF_NONE_MATCH, &page_tag, None),
    )
    .await;
    assert_eq!(cached.status, 304);

    // What a write answers carries the ETag a later read gives.
    let patched = call(&app, Method::PATCH, row, Some(json!({"unit": "MWh"}))).await;
    assert_eq!(patched.status, 200);
    assert_ne!(etag(&patched), tag);
    assert_eq!(etag(&get(&app, row).await), etag(&patched));
    let stale_page = send(
        &app,
        with_header(Method::GET, list, header::IF_NONE_MATCH, &page_tag, None),
    )
    .await;
    assert_eq!(stale_page.status, 200);
    assert_ne!(etag(&stale_page), page_tag);
    let created = call(&app, Method::POST, list, Some(json!({"name": "alpha-new"}))).await;
    assert_eq!(created.status, 201);
    let location = created
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap();
    let path = location.trim_start_matches("http://localhost:8080");
    assert_eq!(etag(&get(&app, path).await), etag(&created));
}

on_both_backends!(if_match_prevents_lost_updates, if_match_scenario);
async fn if_match_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let row = "/api/v1/alpha/data_point/1/";
    let read = get(&app, row).await;
    let tag = etag(&read);

    // Two clients read the same row and both write with what they read: one wins.
    let first = send(
        &app,
        with_header(
            Method::PATCH,
            row,
            header::IF_MATCH,
            &tag,
            Some(json!({"unit": "first"})),
        ),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.json);
    let second = send(
        &app,
        with_header(
            Method::PATCH,
            row,
            header::IF_MATCH,
            &tag,
            Some(json!({"unit": "second"})),
        ),
    )
    .await;
    assert_detail(&second, 412, |detail| {
        detail.contains("has changed since it was read")
    });
    assert_eq!(get(&app, row).await.json["unit"], "first");

    let mut replacement = read.json.clone();
    replacement["unit"] = json!("replaced");
    for (method, body) in [
        (Method::PUT, Some(replacement.clone())),
        (Method::PATCH, Some(json!({}))),
        (Method::DELETE, None),
    ] {
        let refused = send(
            &app,
            with_header(method.clone(), row, header::IF_MATCH, &tag, body),
        )
        .await;
        assert_eq!(refused.status, 412, "{method} with a stale ETag");
    }
    // If-Match compares strongly: a weak tag never matches.
    let current = etag(&first);
    let weak = send(
        &app,
        with_header(
            Method::PATCH,
            row,
            header::IF_MATCH,
            &format!("W/{current}"),
            Some(json!({"unit": "weak"})),
        ),
    )
    .await;
    assert_eq!(weak.status, 412);
    let listed = send(
        &app,
        with_header(
            Method::PUT,
            row,
            header::IF_MATCH,
            &format!("\"other\", {current}"),
            Some(replacement),
        ),
    )
    .await;
    assert_eq!(
        (listed.status, listed.json["unit"].clone()),
        (200, json!("replaced"))
    );
    let any = send(
        &app,
        with_header(
            Method::PATCH,
            row,
            header::IF_MATCH,
            "*",
            Some(json!({"unit": "any"})),
        ),
    )
    .await;
    assert_eq!(any.status, 200);
    let missing = send(
        &app,
        with_header(
            Method::PATCH,
            "/api/v1/alpha/data_point/999/",
            header::IF_MATCH,
            "*",
            Some(json!({"unit": "x"})),
        ),
    )
    .await;
    assert_eq!(missing.status, 404);
    let malformed = send(
        &app,
        with_header(Method::DELETE, row, header::IF_MATCH, "W/", None),
    )
    .await;
    assert_eq!(malformed.status, 400);
    let deleted = send(
        &app,
        with_header(Method::DELETE, row, header::IF_MATCH, &etag(&any), None),
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(get(&app, row).await.status, 404);
}

on_both_backends!(
    if_match_under_concurrent_writes,
    concurrent_if_match_scenario
);
/// Four clients that read the same version write while another transaction holds the row
/// (so that all four are inside their writes at once when it lets go): exactly one write
/// lands, the other three are told the row changed, and the row holds the winner's value.
/// Without the row lock taken before the ETag comparison, all four passed the comparison and
/// the last write silently replaced the others.
async fn concurrent_if_match_scenario(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let row = "/api/v1/alpha/data_point/2/";
    let tag = etag(&get(&app, row).await);
    let mut holder = fixture.database("alpha").connect();
    holder
        .batch_execute(match backend {
            Backend::Postgres => "BEGIN; SELECT 1 FROM data_point WHERE id = 2 FOR UPDATE;",
            Backend::Sqlite => "BEGIN IMMEDIATE;",
        })
        .unwrap();
    let writes = (0..4).map(|writer| {
        send(
            &app,
            with_header(
                Method::PATCH,
                row,
                header::IF_MATCH,
                &tag,
                Some(json!({"unit": format!("w{writer}")})),
            ),
        )
    });
    let release = async move {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
        holder.batch_execute("COMMIT").unwrap();
    };
    let (replies, ()) =
        futures_util::future::join(futures_util::future::join_all(writes), release).await;
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&status| status == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&status| status == 412).count(),
        3,
        "{statuses:?}"
    );
    let winner = replies.iter().find(|reply| reply.status == 200).unwrap();
    let now = get(&app, row).await;
    assert_eq!(now.json["unit"], winner.json["unit"]);
    assert_eq!(etag(&now), etag(winner));
}
