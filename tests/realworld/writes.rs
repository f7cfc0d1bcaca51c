//! Writes on real-world types and their errors, and a partitioned table as one resource.

use super::*;

on_both_backends!(writes_on_real_world_types, writes_scenario);
async fn writes_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let films = "/api/v1/store/film/";

    let created = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "ZORRO ARK", "description": "A charming story", "release_year": 2010,
               "language_id": 1, "rating": "R", "special_features": ["Trailers", "Commentaries"]})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["rating"], "R");
    assert_eq!(
        created.json["special_features"],
        json!(["Trailers", "Commentaries"])
    );
    assert_eq!(created.json["rental_rate"], "4.99", "the database default");
    assert!(
        created.json["fulltext"]
            .as_str()
            .is_some_and(|text| text.contains("zorro")),
        "kept by the database's trigger: {}",
        created.json
    );
    // A list: on PostgreSQL one multi-row INSERT, where an enum, an array and a column left
    // to its default meet in one VALUES list (as many statements as a list of one: the
    // row-by-row path, which would give the same answer, is not what ran).
    let pool = kit.registry().pool("store").expect("project store");
    let before = pool.statements_run();
    let one = call!(
        kit,
        service,
        "POST",
        films,
        json!([{"title": "ZORRO ONE", "language_id": 1, "rating": "G"}])
    );
    assert_eq!(one.status, 201, "{}", one.json);
    let statements_for_one = pool.statements_run() - before;
    let before = pool.statements_run();
    let listed = call!(
        kit,
        service,
        "POST",
        films,
        json!([
            {"title": "ZORRO TWO", "language_id": 1, "rating": "PG-13", "special_features": ["Trailers"]},
            {"title": "ZORRO THREE", "language_id": 1, "rental_rate": "0.99"}
        ])
    );
    assert_eq!(listed.status, 201, "{}", listed.json);
    if backend == Backend::Postgres {
        assert_eq!(pool.statements_run() - before, statements_for_one);
    }
    let (two, three) = (&listed.json[0], &listed.json[1]);
    assert_eq!(
        (
            &two["title"],
            &two["rating"],
            &two["special_features"],
            &two["rental_rate"]
        ),
        (
            &json!("ZORRO TWO"),
            &json!("PG-13"),
            &json!(["Trailers"]),
            &json!("4.99")
        )
    );
    assert_eq!(
        (&three["title"], &three["rental_rate"]),
        (&json!("ZORRO THREE"), &json!("0.99"))
    );
    assert!(
        three["fulltext"]
            .as_str()
            .is_some_and(|text| text.contains("zorro")),
        "{three}"
    );
    let id = created.json["film_id"].as_i64().unwrap();
    let patched = call!(
        kit,
        service,
        "PATCH",
        &format!("{films}{id}/"),
        json!({"special_features": [], "rating": null})
    );
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["special_features"], json!([]));
    assert_eq!(patched.json["rating"], Value::Null);
    let film = database_rows(&database, API.table("film").unwrap())
        .into_iter()
        .find(|row| row["film_id"] == json!(id))
        .unwrap();
    assert!(same_value(
        API.table("film")
            .unwrap()
            .column("special_features")
            .unwrap(),
        &json!([]),
        &film["special_features"]
    ));

    let customer = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "country_code": "FR"})
    );
    assert_eq!(customer.status, 201, "{}", customer.json);
    assert_eq!(
        customer.json["full_name"], "Ann Lee",
        "computed by the database"
    );
    assert_eq!(
        customer.json["favourite_films"],
        json!([]),
        "the database default"
    );
    let duplicate = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "A", "last_name": "B", "email": "ANN@example.com"})
    );
    assert_eq!(duplicate.status, 400, "{}", duplicate.json);
    assert_eq!(
        duplicate.json,
        json!({"email": ["customer with this email already exists."]}),
        "citext uniqueness ignores case"
    );

    // Error paths: each a DRF-shaped 400, nothing written.
    let cases = [
        (
            json!({"title": "X", "language_id": 1, "rating": "X"}),
            json!({"rating": ["\"X\" is not a valid choice."]}),
        ),
        (
            json!({"title": "X", "language_id": 1, "special_features": "Trailers"}),
            json!({"special_features": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            json!({"title": "X", "language_id": 1, "special_features": ["ok", 7, null]}),
            json!({"special_features": {"2": ["This field may not be null."]}}),
        ),
        (
            json!({"title": "X", "language_id": 1, "fulltext": "x"}),
            json!({"fulltext": ["This field is read-only: the database maintains it."]}),
        ),
        (
            json!({"title": "This title is longer than forty characters!!", "language_id": 1}),
            json!({"title": ["Ensure this field has no more than 40 characters."]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = call!(kit, service, "POST", films, body.clone());
        assert_eq!((reply.status, &reply.json), (400, &expected), "{body}");
    }
    let reply = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/customer/",
        json!({"first_name": "A", "last_name": "B", "favourite_films": ["x", 2, "3"]})
    );
    assert_eq!(
        (reply.status, &reply.json),
        (
            400,
            &json!({"favourite_films": {"0": ["A valid integer is required."]}})
        )
    );
    let reply = call!(
        kit,
        service,
        "PATCH",
        "/api/v1/store/customer/1/",
        json!({"full_name": "Someone Else"})
    );
    assert_eq!(
        (reply.status, &reply.json),
        (
            400,
            &json!({"full_name": ["This field is read-only: the database maintains it."]})
        ),
        "a generated column cannot be written"
    );

    // The database's own checks: a domain's (PostgreSQL) or a column's, under the field.
    let reply = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "X", "language_id": 1, "release_year": 1800})
    );
    assert_eq!(reply.status, 400, "{}", reply.json);
    let message = reply.json["release_year"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{}", reply.json));
    assert!(
        message.starts_with("This value violates the database check"),
        "{message}"
    );
    let reply = call!(
        kit,
        service,
        "POST",
        films,
        json!({"title": "X", "language_id": 1, "length": -5})
    );
    assert_eq!(reply.status, 400, "{}", reply.json);
    assert!(reply.json["length"][0].is_string(), "{}", reply.json);
    let count = call!(kit, service, "GET", "/api/v1/store/film/?title=X");
    assert_eq!(count.json["count"], 0, "nothing was written");
}

/// A partitioned table is one resource: a row is written through the parent into the partition
/// its key selects, and read back through the parent (PostgreSQL only: SQLite has none).
#[actix_web::test]
async fn a_partitioned_table_is_one_resource() {
    let database = sample(Backend::Postgres);
    let kit = kit(&database);
    let service = kit.service().await;
    let created = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/payment/",
        json!({"customer_id": 2, "amount": "1.50", "payment_date": "2025-07-01"})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    let key = format!("{},2025-07-01", created.json["payment_id"]);
    let detail = call!(
        kit,
        service,
        "GET",
        &format!("/api/v1/store/payment/{key}/")
    );
    assert_eq!(detail.json["amount"], "1.50", "{}", detail.json);
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let in_partition: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM payment_2025 WHERE payment_date = '2025-07-01'",
    )
    .get_result(&mut database.connect())
    .unwrap();
    assert_eq!(in_partition.n, 1);
    let moved = call!(
        kit,
        service,
        "PATCH",
        &format!("/api/v1/store/payment/{key}/"),
        json!({"payment_date": "2024-07-01"})
    );
    assert_eq!(
        moved.status, 200,
        "a row moves between partitions: {}",
        moved.json
    );
    assert_eq!(moved.json["payment_date"], "2024-07-01");
}
