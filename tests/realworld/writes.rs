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

on_both_backends!(pagila_and_chinook_shapes, shapes_scenario);
/// What Pagila and Chinook have that the store sample also has: a PascalCase table referencing
/// itself, whose SQLite DATETIME and NUMERIC(10,2) (a REAL and an INTEGER) are served in DRF's
/// forms; a column named like its table, read, filtered and written; stores and staff
/// referencing each other, one through a smallint key, expanded both ways.
async fn shapes_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let get = |path: &str| format!("/api/v1/store/{path}");

    let adams = call!(kit, service, "GET", &get("Employee/1/"));
    assert_eq!(adams.status, 200, "{}", adams.json);
    assert_eq!(
        adams.json,
        json!({"EmployeeId": 1, "LastName": "Adams", "ReportsTo": null,
               "HireDate": "2002-08-14T00:00:00", "Salary": "1.98"})
    );
    let edwards = call!(kit, service, "GET", &get("Employee/2/"));
    assert_eq!(edwards.json["Salary"], "2.00", "{}", edwards.json);
    let reports = call!(kit, service, "GET", &get("Employee/?ReportsTo=1"));
    assert_eq!(reports.json["count"], 1, "{}", reports.json);
    assert_eq!(reports.json["results"][0]["LastName"], "Edwards");
    let peacock = call!(kit, service, "GET", &get("Employee/3/?expand=ReportsTo"));
    assert_eq!(
        peacock.json["ReportsTo"]["LastName"], "Edwards",
        "a self-reference expands: {}",
        peacock.json
    );
    let hired = call!(
        kit,
        service,
        "POST",
        &get("Employee/"),
        json!({"EmployeeId": 4, "LastName": "Park", "ReportsTo": 2,
               "HireDate": "2003-05-03T00:00:00", "Salary": 3})
    );
    assert_eq!(hired.status, 201, "{}", hired.json);
    assert_eq!(
        (&hired.json["HireDate"], &hired.json["Salary"]),
        (&json!("2003-05-03T00:00:00"), &json!("3.00"))
    );

    let japan = call!(kit, service, "GET", &get("country/?country=Japan"));
    assert_eq!(japan.json["count"], 1, "{}", japan.json);
    assert_eq!(japan.json["results"][0]["country"], "Japan");
    let spain = call!(
        kit,
        service,
        "POST",
        &get("country/"),
        json!({"country": "Spain"})
    );
    assert_eq!(spain.status, 201, "{}", spain.json);
    assert_eq!(spain.json["country"], "Spain");
    let id = spain.json["country_id"].as_i64().unwrap();
    let renamed = call!(
        kit,
        service,
        "PATCH",
        &get(&format!("country/{id}/")),
        json!({"country": "España"})
    );
    assert_eq!(
        (renamed.status, &renamed.json["country"]),
        (200, &json!("España"))
    );
    let refused = call!(kit, service, "POST", &get("country/"), json!({}));
    assert_eq!(
        (refused.status, &refused.json),
        (400, &json!({"country": ["This field is required."]}))
    );

    let staff = call!(kit, service, "GET", &get("staff/3/?expand=store"));
    assert_eq!(staff.status, 200, "{}", staff.json);
    assert_eq!(
        staff.json["store_id"],
        json!({"store_id": 1, "manager_staff_id": 1, "country_id": 1}),
        "a smallint key expands to the integer-keyed row"
    );
    let store = call!(
        kit,
        service,
        "GET",
        &get("store/2/?expand=manager_staff,staff_set")
    );
    assert_eq!(store.status, 200, "{}", store.json);
    assert_eq!(store.json["manager_staff_id"]["first_name"], "Jon");
    assert_eq!(
        store.json["staff_set"],
        json!([{"staff_id": 2, "first_name": "Jon", "store_id": 2}])
    );
    let moved = call!(
        kit,
        service,
        "PATCH",
        &get("staff/3/"),
        json!({"store_id": 2})
    );
    assert_eq!((moved.status, &moved.json["store_id"]), (200, &json!(2)));
    let nowhere = call!(
        kit,
        service,
        "PATCH",
        &get("staff/3/"),
        json!({"store_id": 9})
    );
    assert_eq!(nowhere.status, 400, "{}", nowhere.json);
}

/// The generated PostgreSQL DDL creates the sample's structure (the store <-> staff cycle, the
/// domains, a table in a second schema), and the description finds no drift in it. (Its SQLite
/// DDL cannot run: the generated column's expression is PostgreSQL's own spelling, as
/// introspected.)
#[test]
fn the_generated_ddl_creates_the_sample_structure() {
    let database = TestDatabase::with_structure(API, Backend::Postgres);
    let other_schemas = API.postgres_search_path.get(1..).unwrap_or_default();
    assert_eq!(other_schemas, ["sales"]);
    let live = introspect::live_structure(&mut database.connect(), other_schemas).unwrap();
    assert_eq!(
        introspect::drift(&live, API.table_metas()),
        Vec::<String>::new()
    );
    // Read without the second schema, its table is missing: drift looks where it is told.
    let live = introspect::live_structure(&mut database.connect(), &[]).unwrap();
    assert_eq!(
        introspect::drift(&live, API.table_metas()),
        ["missing table audit_log", "missing table invoice"]
    );
}

/// A partitioned table is one resource: a row is written through the parent into the partition
/// its key selects, and read back through the parent by its key, whose first column is a
/// timestamptz as in Pagila (PostgreSQL only: SQLite has no partitions).
#[actix_web::test]
async fn a_partitioned_table_is_one_resource() {
    let database = sample(Backend::Postgres);
    let kit = kit(&database);
    let service = kit.service().await;
    let payments = API.table("payment").unwrap();
    let created = call!(
        kit,
        service,
        "POST",
        "/api/v1/store/payment/",
        json!({"customer_id": 2, "amount": "1.50", "payment_date": "2025-07-01T11:30:00+02:00"})
    );
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["payment_date"], "2025-07-01T09:30:00Z");
    let key =
        tenantapi_runtime::http::key_path::primary_key_segment(payments, &created.json).unwrap();
    let detail = call!(
        kit,
        service,
        "GET",
        &format!("/api/v1/store/payment/{key}/")
    );
    assert_eq!(detail.status, 200, "{key}: {}", detail.json);
    assert_eq!(detail.json["amount"], "1.50", "{}", detail.json);
    let id = created.json["payment_id"].as_i64().unwrap();
    let by_hand = call!(
        kit,
        service,
        "GET",
        &format!("/api/v1/store/payment/2025-07-01T11:30:00+02:00,{id}/")
    );
    assert_eq!(
        (by_hand.status, &by_hand.json),
        (200, &detail.json),
        "the key in another spelling of the same instant"
    );
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let in_partition: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM payment_2025 WHERE payment_date = '2025-07-01 09:30:00+00'",
    )
    .get_result(&mut database.connect())
    .unwrap();
    assert_eq!(in_partition.n, 1);
    let moved = call!(
        kit,
        service,
        "PATCH",
        &format!("/api/v1/store/payment/{key}/"),
        json!({"payment_date": "2024-07-01T09:30:00Z"})
    );
    assert_eq!(
        moved.status, 200,
        "a row moves between partitions: {}",
        moved.json
    );
    assert_eq!(moved.json["payment_date"], "2024-07-01T09:30:00Z");
}
