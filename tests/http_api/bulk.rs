//! Bulk creates: a JSON list creates every row in one transaction or none, with DRF's
//! `many=True` shapes for the answer and the errors.

use super::*;

on_both_backends!(bulk_create_is_all_or_nothing, bulk_scenario);
async fn bulk_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |config| config.api.max_bulk_items = 5);
    let app = app(&fixture).await;
    let list = "/api/v1/alpha/data_point/";
    let count = |reply: &Reply| reply.json["count"].as_u64().unwrap();
    let before = count(&get(&app, list).await);

    let created = call(
        &app,
        Method::POST,
        list,
        Some(json!([{"name": "bulk-1", "unit": "l"}, {"name": "bulk-2"}, {"name": "bulk-3", "site_id": 1}])),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(
        created.json,
        json!([
            {"id": 4, "name": "bulk-1", "unit": "l", "site_id": null, "type": "measured"},
            {"id": 5, "name": "bulk-2", "unit": null, "site_id": null, "type": "measured"},
            {"id": 6, "name": "bulk-3", "unit": null, "site_id": 1, "type": "measured"}
        ])
    );
    assert_eq!(created.headers.get(header::LOCATION), None);
    assert_eq!(count(&get(&app, list).await), before + 3);

    // Validation errors: one object per item, in order; nothing written.
    let invalid = call(
        &app,
        Method::POST,
        list,
        Some(json!([{"name": "ok-1"}, {"unit": "l"}, {"name": "ok-2", "colour": "red"}])),
    )
    .await;
    assert_eq!(
        (invalid.status, invalid.json),
        (
            400,
            json!([{}, {"name": ["This field is required."]}, {"colour": ["Unknown field."]}])
        )
    );
    // A database refusal (a duplicate inside the list, a missing site) names its item; the
    // rows before it are rolled back.
    for (items, failing, field) in [
        (
            json!([{"name": "dup-1"}, {"name": "fresh"}, {"name": "bulk-2"}]),
            2,
            "name",
        ),
        (json!([{"name": "twin"}, {"name": "twin"}]), 1, "name"),
        (
            json!([{"name": "fine"}, {"name": "orphan", "site_id": 99}]),
            1,
            "site_id",
        ),
    ] {
        let refused = call(&app, Method::POST, list, Some(items.clone())).await;
        assert_eq!(refused.status, 400, "{items}: {}", refused.json);
        let errors = refused.json.as_array().unwrap();
        assert_eq!(errors.len(), items.as_array().unwrap().len());
        for (index, error) in errors.iter().enumerate() {
            if index == failing {
                assert!(error[field].is_array(), "{items}: {}", refused.json);
            } else {
                assert_eq!(error, &json!({}), "{items}: {}", refused.json);
            }
        }
    }
    assert_eq!(
        count(&get(&app, list).await),
        before + 3,
        "nothing of the refused lists"
    );

    let too_many: Vec<Value> = (0..6)
        .map(|n| json!({"name": format!("many-{n}")}))
        .collect();
    let refused = call(&app, Method::POST, list, Some(Value::Array(too_many))).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            400,
            json!({"non_field_errors": ["Ensure this field has no more than 5 elements."]})
        )
    );
    let not_objects = call(&app, Method::POST, list, Some(json!(["a", 1]))).await;
    assert_eq!(not_objects.status, 400);
    assert_eq!(
        not_objects.json[0]["non_field_errors"][0],
        "Invalid data. Expected a dictionary, but got str."
    );
    let empty = call(&app, Method::POST, list, Some(json!([]))).await;
    assert_eq!((empty.status, empty.json), (201, json!([])));

    // The served document states the configured bound.
    let document = get(&app, "/api/v1/schema/").await.json;
    assert_eq!(
        document["paths"]["/{project}/data_point/"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["oneOf"][1]["maxItems"],
        5
    );
}

on_both_backends!(upsert_by_a_unique_key, upsert_scenario);
/// `?on_conflict=` turns a create into an upsert by a unique key: the row found is updated
/// (never its key), a new one is inserted, one by one or a whole list in one transaction.
async fn upsert_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let list = "/api/v1/alpha/data_point/";
    let count = |reply: &Reply| reply.json["count"].as_u64().unwrap();
    let before = count(&get(&app, list).await);

    let updated = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/?on_conflict=name",
        Some(json!({"name": "alpha-1", "unit": "GWh"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.json);
    assert_eq!(
        (updated.json["id"].clone(), updated.json["unit"].clone()),
        (json!(1), json!("GWh"))
    );
    assert_eq!(
        updated.json["site_id"], 1,
        "columns the body leaves out keep their values"
    );
    assert_eq!(count(&get(&app, list).await), before);

    let inserted = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/?on_conflict=name",
        Some(json!({"name": "upserted-new", "unit": "l"})),
    )
    .await;
    assert_eq!(
        (inserted.status, inserted.json["name"].clone()),
        (200, json!("upserted-new"))
    );
    assert_eq!(count(&get(&app, list).await), before + 1);

    let many = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point/?on_conflict=name",
        Some(json!([{"name": "alpha-2", "unit": "x"}, {"name": "upserted-2"}])),
    )
    .await;
    assert_eq!(many.status, 200, "{}", many.json);
    assert_eq!(
        (many.json[0]["id"].clone(), many.json[0]["unit"].clone()),
        (json!(2), json!("x"))
    );
    assert_eq!(many.json[1]["name"], "upserted-2");
    assert_eq!(count(&get(&app, list).await), before + 2);

    // A composite key given by the client is a conflict target too: no duplicate error.
    let again = call(
        &app,
        Method::POST,
        "/api/v1/alpha/data_point_tag/?on_conflict=data_point_id,tag_id",
        Some(json!([{"data_point_id": 1, "tag_id": 1}, {"data_point_id": 3, "tag_id": 2}])),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(again.json.as_array().unwrap().len(), 2);

    for (query, expected) in [
        (
            "on_conflict=unit",
            "on_conflict=unit names no unique constraint of data point; use one of: name.",
        ),
        (
            "on_conflict=id",
            "on_conflict=id names no unique constraint of data point; use one of: name.",
        ),
    ] {
        let refused = call(
            &app,
            Method::POST,
            &format!("/api/v1/alpha/data_point/?{query}"),
            Some(json!({"name": "never"})),
        )
        .await;
        assert_eq!(
            (refused.status, refused.json["detail"].clone()),
            (400, json!(expected)),
            "{query}"
        );
    }
    assert_eq!(
        count(&get(&app, list).await),
        before + 2,
        "refusals wrote nothing"
    );
}

/// POSTs `items` to `data_point` with `query`: the statements `alpha`'s connections ran, and
/// the reply.
async fn post_counted<S>(
    app: &Client<S>,
    pool: &tenantapi_runtime::connections::pool::ProjectPool,
    query: &str,
    items: Vec<Value>,
) -> (u64, Reply)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let before = pool.statements_run();
    let path = format!("/api/v1/alpha/data_point/{query}");
    let reply = call(app, Method::POST, &path, Some(Value::Array(items))).await;
    (pool.statements_run() - before, reply)
}

on_both_backends!(
    a_bulk_create_on_postgres_costs_the_same_statements_for_3_rows_as_for_300,
    bulk_statements_scenario
);
/// On PostgreSQL a list is inserted with one multi-row INSERT and read back with one SELECT,
/// whatever its length (each statement a round trip); SQLite, where a statement costs no round
/// trip, inserts row by row. Rows come back in the list's order with their defaults.
async fn bulk_statements_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |config| {
        config.api.max_bulk_items = 20_000;
        config.api.max_body_bytes = 4 << 20;
    });
    let app = app(&fixture).await;
    let pool = fixture.registry().pool("alpha").expect("project alpha");
    // The connection's own setup statements are not the list's.
    get(&app, "/api/v1/alpha/data_point/").await;
    let mut statements = Vec::new();
    let mut created_ids = Vec::new();
    for size in [3, 300] {
        let items: Vec<Value> = (0..size)
            .map(|n| match n % 3 {
                0 => json!({"name": format!("n{size}-{n}"), "unit": "kWh"}),
                1 => json!({"name": format!("n{size}-{n}"), "type": "virtual"}),
                _ => json!({"name": format!("n{size}-{n}"), "site_id": 1}),
            })
            .collect();
        let (count, created) = post_counted(&app, &pool, "", items).await;
        statements.push(count);
        assert_eq!(created.status, 201, "{}", created.json);
        let rows = created.json.as_array().unwrap();
        assert_eq!(rows.len(), size);
        for (n, row) in rows.iter().enumerate() {
            assert_eq!(row["name"], format!("n{size}-{n}"), "in the list's order");
            let (unit, kind, site) = match n % 3 {
                0 => (json!("kWh"), "measured", json!(null)),
                1 => (json!(null), "virtual", json!(null)),
                _ => (json!(null), "measured", json!(1)),
            };
            assert_eq!(
                (&row["unit"], row["type"].as_str().unwrap(), &row["site_id"]),
                (&unit, kind, &site),
                "{row}: the columns a body left out take their defaults"
            );
            let stored = get(&app, &format!("/api/v1/alpha/data_point/{}/", row["id"])).await;
            assert_eq!(&stored.json, row, "what was answered is what was stored");
        }
        created_ids = rows.iter().map(|row| row["id"].clone()).collect();
    }

    // Upserts whose bodies all set the same columns: also one statement per batch on
    // PostgreSQL. Both lists update rows just created, which keep their keys.
    let mut upsert_statements = Vec::new();
    for (size, first) in [(3, 297), (300, 0)] {
        let items: Vec<Value> = (first..first + size)
            .map(|n| json!({"name": format!("n300-{n}"), "unit": format!("u{size}")}))
            .collect();
        let (count, upserted) = post_counted(&app, &pool, "?on_conflict=name", items).await;
        upsert_statements.push(count);
        assert_eq!(upserted.status, 200, "{}", upserted.json);
        for (offset, row) in upserted.json.as_array().unwrap().iter().enumerate() {
            let n = first + offset;
            assert_eq!(row["name"], format!("n300-{n}"));
            assert_eq!(row["unit"], format!("u{size}"));
            assert_eq!(row["id"], created_ids[n], "the updated row keeps its key");
        }
    }
    // A body that leaves a field out keeps the row's value, though another body sets it.
    let (_, mixed) = post_counted(
        &app,
        &pool,
        "?on_conflict=name",
        vec![
            json!({"name": "n300-0", "unit": "mixed"}),
            json!({"name": "n300-1"}),
        ],
    )
    .await;
    assert_eq!(mixed.status, 200, "{}", mixed.json);
    assert_eq!(
        (&mixed.json[0]["unit"], &mixed.json[1]["unit"]),
        (&json!("mixed"), &json!("u300")),
        "{}",
        mixed.json
    );
    // Two bodies meeting the same row apply in order, as one by one.
    let (_, twice) = post_counted(
        &app,
        &pool,
        "?on_conflict=name",
        vec![
            json!({"name": "twice", "unit": "a"}),
            json!({"name": "twice", "unit": "b"}),
        ],
    )
    .await;
    assert_eq!(twice.status, 200, "{}", twice.json);
    assert_eq!(twice.json[0]["id"], twice.json[1]["id"]);
    assert_eq!(
        (&twice.json[0]["unit"], &twice.json[1]["unit"]),
        (&json!("a"), &json!("b"))
    );
    if backend == Backend::Postgres {
        assert_eq!(
            upsert_statements[0], upsert_statements[1],
            "PostgreSQL upserts: statements for 3 and 300 rows"
        );
    }
    if backend == Backend::Postgres {
        // PostgreSQL takes at most 65,535 binds in a statement: 14,000 rows of 5 columns are
        // two INSERTs (the read-back is still one SELECT).
        let items: Vec<Value> = (0..14_000)
            .map(|n| json!({"name": format!("wide-{n}"), "unit": "kWh", "type": "virtual", "site_id": 1}))
            .collect();
        let (count, created) = post_counted(&app, &pool, "", items).await;
        assert_eq!(created.status, 201, "{}", created.json);
        let rows = created.json.as_array().unwrap();
        assert_eq!(rows.len(), 14_000);
        assert!(
            rows.iter()
                .enumerate()
                .all(|(n, row)| row["name"] == format!("wide-{n}"))
        );
        assert_eq!(count, statements[1] + 1);
    }
    match backend {
        Backend::Postgres => assert_eq!(
            statements[0], statements[1],
            "PostgreSQL: statements for 3 and 300 rows"
        ),
        Backend::Sqlite => assert!(
            statements[1] > statements[0] + 290,
            "SQLite row by row: {statements:?}"
        ),
    }
}

/// Issue 24: a list whose transaction failed before any item was being written (here its
/// BEGIN, on a connection whose server process was terminated) took its first item as the one
/// to blame, and an empty list has none: the handler panicked (500). Now nothing is blamed, and
/// since nothing reached the database the write is retried on a fresh connection.
///
/// PostgreSQL only: on SQLite no empty list's transaction fails so (a lock not had in time and
/// the structure-version check are refusals, answered without naming items, and a COMMIT of
/// nothing does not fail).
#[actix_web::test]
async fn an_empty_list_whose_transaction_fails_names_no_item() {
    use diesel::{Connection as _, RunQueryDsl as _};
    let fixture = kit(Backend::Postgres, &[], |_| {});
    let app = app(&fixture).await;
    let list = "/api/v1/alpha/tag/";
    assert_eq!(get(&app, list).await.status, 200, "a connection is open");
    let database = fixture.database("alpha").url.rsplit('/').next().unwrap();
    let mut admin = diesel::PgConnection::establish(&format!(
        "{}/postgres",
        tenantapi_testkit::postgres_server_url()
    ))
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let server_connections = |admin: &mut diesel::PgConnection| {
        diesel::sql_query(format!(
            "SELECT count(*) AS count FROM pg_stat_activity WHERE datname = '{database}' \
             AND application_name = 'tenantapi'"
        ))
        .get_result::<Count>(admin)
        .unwrap()
        .count
    };
    assert!(server_connections(&mut admin) > 0);
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' \
         AND application_name = 'tenantapi'"
    ))
    .execute(&mut admin)
    .unwrap();
    while server_connections(&mut admin) > 0 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let empty = call(&app, Method::POST, list, Some(json!([]))).await;
    assert_eq!((empty.status, empty.json), (201, json!([])));
}

/// Issue 24: the checkout deadline started when the request's project was resolved, before
/// the handler read the body, so a body that took longer to arrive than the checkout timeout
/// was answered 503 "no connection became free" however often it was retried. The deadline
/// now starts when the database work is submitted.
fn slow_upload_scenario(backend: Backend) {
    use std::io::{Read as _, Write as _};
    let checkout_timeout = std::time::Duration::from_millis(300);
    let fixture = kit(backend, &[], |config| {
        config.pool.checkout_timeout_ms = checkout_timeout.as_millis() as u64;
        config.api.max_body_bytes = 2 << 20;
        config.api.max_bulk_items = 10_000;
    });
    let server = fixture.serve();
    let items: Vec<Value> = (0..5_000)
        .map(|n| json!({"label": format!("slowly uploaded tag number {n:>6} {}", "x".repeat(150))}))
        .collect();
    let body = Value::Array(items).to_string();
    assert!(body.len() > 900 << 10, "about 1 MiB: {}", body.len());

    let upload = std::thread::spawn({
        let address = server.address;
        let authorization = format!("Token {}", fixture.token("tester"));
        move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            write!(
                stream,
                "POST /api/v1/alpha/tag/ HTTP/1.1\r\nHost: {address}\r\nAuthorization: \
                 {authorization}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            // Four pieces, each after a pause: the whole body takes three checkout timeouts.
            let piece = body.len().div_ceil(4);
            for chunk in body.as_bytes().chunks(piece) {
                stream.write_all(chunk).unwrap();
                stream.flush().unwrap();
                std::thread::sleep(checkout_timeout);
            }
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).unwrap();
            answer
        }
    });
    let answer = upload.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default().to_string();
    assert!(
        status_line.starts_with("HTTP/1.1 201"),
        "{status_line}: {}",
        answer.chars().take(500).collect::<String>()
    );
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let tags: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT count(*) AS count FROM tag"),
        &mut fixture.database("alpha").connect(),
    )
    .unwrap();
    assert_eq!(tags.count, 2 + 5_000);
}

mod a_slow_upload_is_not_counted_against_the_checkout_timeout {
    use super::*;

    #[::core::prelude::v1::test]
    fn sqlite() {
        slow_upload_scenario(Backend::Sqlite);
    }

    #[::core::prelude::v1::test]
    fn postgres() {
        slow_upload_scenario(Backend::Postgres);
    }
}
