//! What one read may cost: the rows a page and its expansions produce (`api.max_read_rows`),
//! keys bound in chunks under each backend's bind limit, `fields`/`omit` as deep as expansions
//! go, and one snapshot for a page and its expansions.

use super::*;

/// SQL that adds `count` readings to data point `data_point`, one second apart from `from`
/// seconds past 2020-01-01 (distinct times: the table is unique on point and time).
fn readings_sql(backend: Backend, data_point: i64, from: i64, count: i64) -> String {
    let at = match backend {
        Backend::Postgres => "TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '1 second'",
        Backend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', '2020-01-01', '+' || i || ' seconds')",
    };
    format!(
        "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
         INSERT INTO reading (data_point_id, measured_at, value) SELECT {data_point}, {at}, 1 FROM n",
        last = from + count - 1
    )
}

on_both_backends!(
    reads_beyond_max_read_rows_are_400_naming_the_bound,
    read_bound_scenario
);
async fn read_bound_scenario(backend: Backend) {
    // The kit's pages go up to 200 rows; a read may produce 210.
    let fixture = kit(backend, &[], |config| config.api.max_read_rows = 210);
    let app = app(&fixture).await;
    let database = fixture.database("alpha");
    // 150 readings (100 listed), 60 and 47: with the three data points, exactly 210 rows.
    database.execute(&readings_sql(backend, 1, 0, 150));
    database.execute(&readings_sql(backend, 2, 0, 60));
    database.execute(&readings_sql(backend, 3, 0, 47));
    let path = "/api/v1/alpha/data_point/?ordering=id&expand=reading_set";
    let full = get(&app, path).await;
    assert_eq!(
        full.status, 200,
        "210 rows is within the bound: {}",
        full.json
    );
    let listed: Vec<usize> = full.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["reading_set"].as_array().unwrap().len())
        .collect();
    assert_eq!(listed, vec![100, 60, 47]);

    // One row more is over it: 400 naming the bound and what to ask for instead.
    database.execute(&readings_sql(backend, 3, 1000, 1));
    let over = get(&app, path).await;
    assert_detail(&over, 400, |detail| {
        detail.contains("more than 210 rows")
            && detail.contains("page_size")
            && detail.contains("expand")
    });
    // A smaller page fits again.
    let smaller = get(&app, &format!("{path}&page_size=2")).await;
    assert_eq!(smaller.status, 200, "{}", smaller.json);
    assert_eq!(smaller.json["results"].as_array().unwrap().len(), 2);

    // A row that many rows reference counts under each: 150 readings of data point 1, each
    // with that data point and its 100 readings, is 150 * 102 rows although only 251 are read.
    let copied = get(
        &app,
        "/api/v1/alpha/reading/?data_point_id=1&page_size=150&expand=data_point.reading_set",
    )
    .await;
    assert_detail(&copied, 400, |detail| detail.contains("more than 210 rows"));
    let few = get(
        &app,
        "/api/v1/alpha/reading/?data_point_id=1&page_size=2&expand=data_point.reading_set",
    )
    .await;
    assert_eq!(few.status, 200, "2 * 102 rows fit: {}", few.json);

    // One row by its key is bounded the same way, and cursor pages too.
    let one = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=reading_set.data_point.reading_set",
    )
    .await;
    assert_detail(&one, 400, |detail| detail.contains("more than 210 rows"));
    let cursor = get(
        &app,
        "/api/v1/alpha/data_point/?cursor=&page_size=3&expand=reading_set",
    )
    .await;
    assert_detail(&cursor, 400, |detail| detail.contains("more than 210 rows"));
    // With the page fitting, nested relations through forward keys still work.
    let nested = get(
        &app,
        "/api/v1/alpha/data_point/2/?expand=reading_set.data_point.site",
    )
    .await;
    assert_eq!(nested.status, 200, "{}", nested.json);
    assert_eq!(nested.json["reading_set"].as_array().unwrap().len(), 60);
}

on_both_backends!(
    expanding_more_keys_than_a_statement_can_bind_is_not_a_500,
    many_keys_scenario
);
async fn many_keys_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let uuid = match backend {
        Backend::Postgres => "('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid",
        Backend::Sqlite => "printf('00000000-0000-4000-8000-%012d', i)",
    };
    // 200 sites with 100 data points each: expanding their readings needs 20,000 keys, past
    // SQLite's 32,766 binds when each key is bound twice.
    let database = fixture.database("alpha");
    database.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
         INSERT INTO site (id, code, name, external_ref) SELECT i, 'S' || i, 'site ' || i, {uuid} FROM n"
    ));
    database.execute(
        "WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 20001) \
         INSERT INTO data_point (id, name, site_id) SELECT i, 'point ' || i, (i - 2) / 100 + 1 FROM n",
    );
    database.execute(&readings_sql(backend, 19_999, 0, 3));
    let reply = get(
        &app,
        "/api/v1/alpha/site/?ordering=id&page_size=200&expand=data_point_set.reading_set",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let sites = reply.json["results"].as_array().unwrap();
    assert_eq!(sites.len(), 200);
    assert!(
        sites
            .iter()
            .all(|site| site["data_point_set"].as_array().unwrap().len() == 100),
        "every site lists its 100 data points"
    );
    let last_site = &sites[199]["data_point_set"];
    let with_readings: Vec<&Value> = last_site
        .as_array()
        .unwrap()
        .iter()
        .filter(|point| !point["reading_set"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(with_readings.len(), 1);
    assert_eq!(with_readings[0]["id"], 19_999);
    assert_eq!(with_readings[0]["reading_set"].as_array().unwrap().len(), 3);
}

on_both_backends!(
    fields_deeper_than_expansions_reach_are_400,
    selection_depth_scenario
);
async fn selection_depth_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    // The deepest a field inside expansions can be: three relations and a field.
    let deepest = get(
        &app,
        "/api/v1/alpha/data_point/1/?expand=site.data_point_set.site&fields=site.data_point_set.site.code",
    )
    .await;
    assert_eq!(deepest.status, 200, "{}", deepest.json);
    for parameter in ["fields", "omit"] {
        let deeper = get(
            &app,
            &format!(
                "/api/v1/alpha/data_point/1/?{parameter}=site.data_point_set.site.data_point_set.name"
            ),
        )
        .await;
        assert_detail(&deeper, 400, |detail| {
            detail.starts_with(&format!(
                "{parameter}=site.data_point_set.site.data_point_set.name goes 5 fields deep"
            ))
        });
    }
}

/// A page read and its expansion read, with a transaction committed between them that changes
/// both tables: the answer shows the rows as they were before it, together.
#[actix_web::test]
async fn a_page_and_its_expansions_read_one_snapshot_on_postgres() {
    use diesel::connection::SimpleConnection as _;
    let fixture = kit(Backend::Postgres, &[], |_| {});
    let app = app(&fixture).await;
    // Opened and version-checked before the lock below is taken.
    assert_eq!(get(&app, "/api/v1/alpha/site/1/").await.status, 200);
    let database = fixture.database("alpha");
    let mut writer = database.connect();
    writer
        .batch_execute("BEGIN; LOCK TABLE site IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut observer = database.connect();
    let change = std::thread::spawn(move || {
        // Until the expansion's read waits for the lock on `site`: the page is read by then.
        wait_for_lock_waiters(&mut observer, Some("site"), 1);
        writer
            .batch_execute(
                "UPDATE data_point SET name = 'renamed' WHERE id = 1; \
                 UPDATE site SET name = 'renamed' WHERE id = 1; COMMIT",
            )
            .unwrap();
    });
    let reply = get(&app, "/api/v1/alpha/data_point/?ordering=id&expand=site").await;
    change.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    let first = &reply.json["results"][0];
    assert_eq!(
        (first["name"].clone(), first["site_id"]["name"].clone()),
        (json!("alpha-1"), json!("Alpha site")),
        "the page and its expansion from one moment: {first}"
    );
    let after = get(&app, "/api/v1/alpha/data_point/1/?expand=site").await;
    assert_eq!(
        (
            after.json["name"].clone(),
            after.json["site_id"]["name"].clone()
        ),
        (json!("renamed"), json!("renamed"))
    );
}
