//! JSON types, constraint violations and concurrent duplicate creates.

use super::*;

on_both_backends!(json_types, json_types_scenario);
async fn json_types_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let reading = call(
        &app,
        Method::POST,
        "/api/v1/alpha/reading/",
        Some(json!({"data_point_id": 1, "measured_at": "2024-06-01T12:00:00+02:00", "value": 12.5, "raw": "3q2+7w=="})),
    )
    .await;
    assert_eq!(reading.status, 201, "{}", reading.json);
    assert_eq!(
        reading.json["value"], "12.500000",
        "numeric as an exact string"
    );
    assert_eq!(
        reading.json["measured_at"], "2024-06-01T10:00:00Z",
        "timestamptz as RFC 3339 UTC"
    );
    assert_eq!(reading.json["raw"], "3q2+7w==", "bytes as base64");
    let window = call(
        &app,
        Method::POST,
        "/api/v1/alpha/maintenance-window/",
        Some(json!({"site_id": 1, "starts_at": "2024-07-01T06:00:00", "ticket": "ABCDEF01-2345-4789-8abc-def012345678", "details": {"a": [1, "two", null]}, "self": "me"})),
    )
    .await;
    assert_eq!(window.status, 201, "{}", window.json);
    assert_eq!(
        window.json["ticket"], "abcdef01-2345-4789-8abc-def012345678",
        "uuid as a lowercase string"
    );
    assert_eq!(
        window.json["details"],
        json!({"a": [1, "two", null]}),
        "json as is"
    );
    assert_eq!(
        window.json["self"], "me",
        "keyword column under its SQL name"
    );
    let site = get(&app, "/api/v1/alpha/site/1/").await;
    assert_eq!(
        site.json["external_ref"],
        "11111111-2222-4333-8444-555555555555"
    );
    let filtered = get(
        &app,
        "/api/v1/alpha/reading/?measured_at__gte=2024-06-01T11:00:00%2B01:00&value__lt=13",
    )
    .await;
    assert_eq!(filtered.json["count"], 1, "{}", filtered.json);
}

on_both_backends!(constraint_violations, constraint_violations_scenario);
async fn constraint_violations_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    for (method, path, body, expected) in [
        (
            Method::POST,
            "/api/v1/alpha/data_point/",
            json!({"name": "alpha-1"}),
            json!({"name": ["data point with this name already exists."]}),
        ),
        (
            Method::POST,
            "/api/v1/alpha/data_point/",
            json!({"name": "x", "site_id": 7}),
            json!({"site_id": ["Invalid pk \"7\" - object does not exist."]}),
        ),
        (
            Method::PATCH,
            "/api/v1/alpha/data_point/2/",
            json!({"name": "alpha-1"}),
            json!({"name": ["data point with this name already exists."]}),
        ),
        (
            Method::POST,
            "/api/v1/alpha/data_point_tag/",
            json!({"data_point_id": 1, "tag_id": 1}),
            json!({"non_field_errors": ["The fields data_point_id, tag_id must make a unique set."]}),
        ),
    ] {
        let reply = call(&app, method.clone(), path, Some(body.clone())).await;
        assert_eq!(
            (reply.status, reply.json),
            (400, expected),
            "{method} {path} {body}"
        );
    }
    let window = call(
        &app,
        Method::POST,
        "/api/v1/alpha/maintenance-window/",
        Some(json!({"site_id": 1, "starts_at": "2024-01-01T00:00:00"})),
    )
    .await;
    assert_eq!(window.status, 201);
    let restricted = call(&app, Method::DELETE, "/api/v1/alpha/site/1/", None).await;
    assert_eq!(restricted.status, 400);
    assert!(
        restricted.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("This site cannot be deleted"),
        "{}",
        restricted.json
    );
}

on_both_backends!(
    concurrent_duplicate_creates,
    concurrent_duplicate_creates_scenario
);
async fn concurrent_duplicate_creates_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let attempts = (0..8).map(|_| {
        call(
            &app,
            Method::POST,
            "/api/v1/alpha/data_point/",
            Some(json!({"name": "contended"})),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 400, 400, 400, 400, 400, 400, 400]);
    for reply in replies.iter().filter(|reply| reply.status == 400) {
        assert_eq!(
            reply.json,
            json!({"name": ["data point with this name already exists."]})
        );
    }
}

on_both_backends!(enumerations, enumerations_scenario);
/// A column of a named enumeration: its values as strings, DRF's ChoiceField message for any
/// other, filters `=`, `__in` and `__isnull`, ordering by the enumeration's order on PostgreSQL.
async fn enumerations_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |_| {});
    let app = app(&fixture).await;
    let energy = get(&app, "/api/v1/alpha/tag/1/").await;
    assert_eq!(energy.json["kind"], "topic", "the column's default");
    let created = call(
        &app,
        Method::POST,
        "/api/v1/alpha/tag/",
        Some(json!({"label": "north", "kind": "place"})),
    )
    .await;
    assert_eq!(
        (created.status, created.json["kind"].clone()),
        (201, json!("place"))
    );
    for (kind, shown) in [
        (json!("x"), "x"),
        (json!(3), "3"),
        (json!("Topic"), "Topic"),
    ] {
        let refused = call(
            &app,
            Method::POST,
            "/api/v1/alpha/tag/",
            Some(json!({"label": "bad", "kind": kind})),
        )
        .await;
        assert_eq!(
            (refused.status, refused.json),
            (
                400,
                json!({"kind": [format!("\"{shown}\" is not a valid choice.")]})
            )
        );
    }
    let patched = call(
        &app,
        Method::PATCH,
        "/api/v1/alpha/tag/2/",
        Some(json!({"kind": "person"})),
    )
    .await;
    assert_eq!(
        (patched.status, patched.json["kind"].clone()),
        (200, json!("person"))
    );

    let labels = |reply: &Reply| -> Vec<String> {
        reply.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["label"].as_str().unwrap().to_string())
            .collect()
    };
    for (query, expected) in [
        ("kind=place", vec!["north"]),
        (
            "kind__in=place,person&ordering=label",
            vec!["billing", "north"],
        ),
        (
            "kind__isnull=false&ordering=id",
            vec!["energy", "billing", "north"],
        ),
    ] {
        let reply = get(&app, &format!("/api/v1/alpha/tag/?{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.json);
        assert_eq!(labels(&reply), expected, "{query}");
    }
    let bogus = get(&app, "/api/v1/alpha/tag/?kind=bogus").await;
    assert_eq!(
        (bogus.status, bogus.json),
        (400, json!({"kind": ["\"bogus\" is not a valid choice."]}))
    );
    for unknown in ["kind__gt=place", "kind__contains=pl"] {
        let reply = get(&app, &format!("/api/v1/alpha/tag/?{unknown}")).await;
        assert_eq!(reply.status, 400, "{unknown}");
    }
    // Ordering: the enumeration's order on PostgreSQL (topic, place, person), text on SQLite.
    let ordered = get(&app, "/api/v1/alpha/tag/?ordering=kind").await;
    let expected = match backend {
        Backend::Postgres => vec!["energy", "north", "billing"],
        Backend::Sqlite => vec!["billing", "north", "energy"],
    };
    assert_eq!(labels(&ordered), expected);
}

/// What this thread logs while the guard lives: the request's error event is written on the
/// thread that answers it, the test's own under `actix_web::test`.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn start(&self) -> impl Drop {
        use tracing_subscriber::util::SubscriberInitExt as _;
        let log = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || log.clone())
            .finish()
            .set_default()
    }

    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

/// Issue 25: rows another application wrote into a SQLite database, in every form SQLite's
/// date functions accept, Unix times, booleans as words and decimals as text or real, are
/// served as docs/description-format.md, "What a SQLite database written by another application holds", says.
#[actix_web::test]
async fn sqlite_stored_forms_are_served_as_documented() {
    let fixture = kit(Backend::Sqlite, &[], |_| {});
    let database = fixture.database("alpha");
    // `value` without a declared type keeps whatever class it is given (no affinity), as a
    // column declared TEXT by an application that keeps decimals exact would hold text.
    database.execute(
        r#"DROP TABLE reading;
        CREATE TABLE "reading" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            "data_point_id" INTEGER NOT NULL, "measured_at" TIMESTAMPTZ NOT NULL,
            "value" NOT NULL, "quality" SMALLINT NOT NULL DEFAULT 0, "raw" BLOB,
            "recorded_at" TIMESTAMPTZ NOT NULL DEFAULT '2026-01-01 00:00:00');
        INSERT INTO "maintenance-window" (id, site_id, starts_at, daily_start) VALUES
            (101, 1, '2006-02-14', '10:20'),
            (102, 1, '2006-02-14 10:20', '10:20:30'),
            (103, 1, '2006-02-14 10:20:30', '10:20:30.5'),
            (104, 1, '2006-02-14 10:20:30.123', '10:20:30.123456'),
            (105, 1, '2006-02-14T10:20:30.123456789000', '10:20Z'),
            (106, 1, '2006-02-14T10:20:30Z', '01:20:30+02:00'),
            (107, 1, '2006-02-14 10:20:30+02:00', '10:20:30 -01:00'),
            (108, 1, '2006-02-14T10:20:30.5-03:30', NULL),
            (109, 1, 1139912430, NULL),
            (110, 1, 1139912430.25, NULL);
        INSERT INTO site (id, code, name, external_ref, is_active, commissioned_on) VALUES
            (101, 'B1', 'b', '00000000-0000-4000-8000-000000000101', 0, '2006-02-14'),
            (102, 'B2', 'b', '00000000-0000-4000-8000-000000000102', 1, '2006-02-14 00:00:00'),
            (103, 'B3', 'b', '00000000-0000-4000-8000-000000000103', 't', 1139875200),
            (104, 'B4', 'b', '00000000-0000-4000-8000-000000000104', 'f', '2006-02-14T02:00+02:00'),
            (105, 'B5', 'b', '00000000-0000-4000-8000-000000000105', 'TRUE', NULL),
            (106, 'B6', 'b', '00000000-0000-4000-8000-000000000106', 'False', NULL),
            (107, 'B7', 'b', '00000000-0000-4000-8000-000000000107', 'true', NULL),
            (108, 'B8', 'b', '00000000-0000-4000-8000-000000000108', '0', NULL);
        INSERT INTO reading (id, data_point_id, measured_at, value, quality) VALUES
            (201, 1, '2006-02-14', '12.5', 1),
            (202, 1, '2006-02-14 10:20:30+02:00', '123456789012.123456', '7'),
            (203, 1, 1139912430, 12.25, 2.0),
            (204, 1, '2006-02-14T10:20:30.5', 7, 3),
            (205, 1, '2006-02-14 10:20', '-0.500000000', 4);
        INSERT INTO tag (id, label, color) VALUES (101, 'blob', X'23414243');"#,
    );
    let app = app(&fixture).await;
    let windows = get(&app, "/api/v1/alpha/maintenance-window/?page_size=200").await;
    assert_eq!(windows.status, 200, "{}", windows.json);
    let served = |reply: &Reply, fields: &[&str]| -> Vec<Value> {
        reply.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["id"].as_i64().unwrap() > 100)
            .map(|row| Value::Array(fields.iter().map(|field| row[*field].clone()).collect()))
            .collect()
    };
    assert_eq!(
        served(&windows, &["id", "starts_at", "daily_start"]),
        vec![
            json!([101, "2006-02-14T00:00:00", "10:20:00"]),
            json!([102, "2006-02-14T10:20:00", "10:20:30"]),
            json!([103, "2006-02-14T10:20:30", "10:20:30.500"]),
            json!([104, "2006-02-14T10:20:30.123", "10:20:30.123456"]),
            json!([105, "2006-02-14T10:20:30.123456789", "10:20:00"]),
            json!([106, "2006-02-14T10:20:30", "23:20:30"]),
            json!([107, "2006-02-14T08:20:30", "11:20:30"]),
            json!([108, "2006-02-14T13:50:30.500", null]),
            json!([109, "2006-02-14T10:20:30", null]),
            json!([110, "2006-02-14T10:20:30.250", null]),
        ]
    );
    let sites = get(&app, "/api/v1/alpha/site/?page_size=200").await;
    assert_eq!(sites.status, 200, "{}", sites.json);
    assert_eq!(
        served(&sites, &["id", "is_active", "commissioned_on"]),
        vec![
            json!([101, false, "2006-02-14"]),
            json!([102, true, "2006-02-14"]),
            json!([103, true, "2006-02-14"]),
            json!([104, false, "2006-02-14"]),
            json!([105, true, null]),
            json!([106, false, null]),
            json!([107, true, null]),
            json!([108, false, null]),
        ]
    );
    // Regression (issue 25): filters compared booleans with 0 and 1, so `?is_active=true`
    // missed the rows holding `'t'`, `'TRUE'` or `'true'` that the list serves as `true`.
    let ids = |reply: &Reply| -> Vec<i64> {
        reply.json["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.json))
            .iter()
            .map(|row| row["id"].as_i64().unwrap())
            .filter(|id| *id > 100)
            .collect()
    };
    let active = get(&app, "/api/v1/alpha/site/?is_active=true&page_size=200").await;
    assert_eq!(ids(&active), [102, 103, 105, 107], "{}", active.json);
    let inactive = get(
        &app,
        "/api/v1/alpha/site/?is_active__in=false&page_size=200",
    )
    .await;
    assert_eq!(ids(&inactive), [101, 104, 106, 108], "{}", inactive.json);
    let readings = get(&app, "/api/v1/alpha/reading/?page_size=200").await;
    assert_eq!(readings.status, 200, "{}", readings.json);
    assert_eq!(
        served(&readings, &["id", "measured_at", "value", "quality"]),
        vec![
            json!([201, "2006-02-14T00:00:00Z", "12.500000", 1]),
            json!([202, "2006-02-14T08:20:30Z", "123456789012.123456", 7]),
            json!([203, "2006-02-14T10:20:30Z", "12.250000", 2]),
            json!([204, "2006-02-14T10:20:30.500Z", "7.000000", 3]),
            json!([205, "2006-02-14T10:20:00Z", "-0.500000", 4]),
        ]
    );
    let tags = get(&app, "/api/v1/alpha/tag/?page_size=200").await;
    assert_eq!(tags.status, 200, "{}", tags.json);
    assert_eq!(
        served(&tags, &["id", "color"]),
        vec![json!([101, "#ABC"])],
        "a blob of UTF-8 text in a text column"
    );
}

/// Issue 25: a value the column's type cannot represent (text `t` in a smallint, which diesel's
/// SQLite read served as 0) is refused, never changed: the request answers 500 with the generic
/// message, and the log names the table, the row's key, the column and the value.
#[actix_web::test]
async fn sqlite_unreadable_values_are_refused_and_logged() {
    let fixture = kit(Backend::Sqlite, &[], |_| {});
    let database = fixture.database("alpha");
    let app = app(&fixture).await;
    let log = CapturedLog::default();
    let _capture = log.start();
    let clean_site = "UPDATE site SET is_active = 1, commissioned_on = NULL WHERE id = 1";
    let clean_window = "DELETE FROM \"maintenance-window\" WHERE id = 401";
    for (setup, list, item, logged, cleanup) in [
        (
            "INSERT INTO reading (id, data_point_id, measured_at, value, quality) VALUES (301, 1, '2024-01-01 00:00:00', 1, 't')",
            "/api/v1/alpha/reading/",
            "/api/v1/alpha/reading/301/",
            r#"table "reading", row with key [301], column "quality": text 't' is not a smallint"#,
            "DELETE FROM reading WHERE id > 300",
        ),
        (
            "INSERT INTO reading (id, data_point_id, measured_at, value, quality) VALUES (302, 1, '2024-01-01 00:00:00', 1, 40000)",
            "/api/v1/alpha/reading/",
            "/api/v1/alpha/reading/302/",
            r#"table "reading", row with key [302], column "quality": integer 40000 is not a smallint"#,
            "DELETE FROM reading WHERE id > 300",
        ),
        (
            "INSERT INTO reading (id, data_point_id, measured_at, value) VALUES (303, 1, '2024-01-01 00:00:00', '1.2345678')",
            "/api/v1/alpha/reading/",
            "/api/v1/alpha/reading/303/",
            r#"table "reading", row with key [303], column "value": real 1.2345678 is not a decimal"#,
            "DELETE FROM reading WHERE id > 300",
        ),
        (
            "INSERT INTO reading (id, data_point_id, measured_at, value) VALUES (304, 1, 'yesterday', 1)",
            "/api/v1/alpha/reading/",
            "/api/v1/alpha/reading/304/",
            r#"table "reading", row with key [304], column "measured_at": text 'yesterday' is not a timestamp with time zone"#,
            "DELETE FROM reading WHERE id > 300",
        ),
        (
            "INSERT INTO tag (id, label, color) VALUES (102, 'bad', X'FF00')",
            "/api/v1/alpha/tag/",
            "/api/v1/alpha/tag/102/",
            r#"table "tag", row with key [102], column "color": blob X'FF00' (2 bytes) is not text (UTF-8)"#,
            "DELETE FROM tag WHERE id = 102",
        ),
        (
            "UPDATE site SET is_active = 'yes' WHERE id = 1",
            "/api/v1/alpha/site/",
            "/api/v1/alpha/site/1/",
            r#"table "site", row with key [1], column "is_active": text 'yes' is not a boolean"#,
            clean_site,
        ),
        (
            "UPDATE site SET is_active = 2 WHERE id = 1",
            "/api/v1/alpha/site/",
            "/api/v1/alpha/site/1/",
            r#"table "site", row with key [1], column "is_active": integer 2 is not a boolean"#,
            clean_site,
        ),
        (
            "UPDATE site SET is_active = 1, commissioned_on = '2006-02-14 10:00' WHERE id = 1",
            "/api/v1/alpha/site/",
            "/api/v1/alpha/site/1/",
            r#"table "site", row with key [1], column "commissioned_on": text '2006-02-14 10:00' is not a date"#,
            clean_site,
        ),
        (
            "INSERT INTO \"maintenance-window\" (id, site_id, starts_at, daily_start) VALUES (401, 1, '2006-02-14 25:00', NULL)",
            "/api/v1/alpha/maintenance-window/",
            "/api/v1/alpha/maintenance-window/401/",
            r#"table "maintenance-window", row with key [401], column "starts_at": text '2006-02-14 25:00' is not a date and time"#,
            clean_window,
        ),
        (
            "INSERT INTO \"maintenance-window\" (id, site_id, starts_at, ticket) VALUES (401, 1, '2006-02-14', 'not-a-uuid')",
            "/api/v1/alpha/maintenance-window/",
            "/api/v1/alpha/maintenance-window/401/",
            r#"table "maintenance-window", row with key [401], column "ticket": text 'not-a-uuid' is not a UUID"#,
            clean_window,
        ),
        (
            "INSERT INTO \"maintenance-window\" (id, site_id, starts_at, details) VALUES (401, 1, '2006-02-14', '{broken')",
            "/api/v1/alpha/maintenance-window/",
            "/api/v1/alpha/maintenance-window/401/",
            r#"table "maintenance-window", row with key [401], column "details": text '{broken' is not JSON"#,
            clean_window,
        ),
        (
            "INSERT INTO \"maintenance-window\" (id, site_id, starts_at, daily_start) VALUES (401, 1, '2006-02-14', X'0102')",
            "/api/v1/alpha/maintenance-window/",
            "/api/v1/alpha/maintenance-window/401/",
            r#"table "maintenance-window", row with key [401], column "daily_start": blob X'0102' (2 bytes) is not a time"#,
            clean_window,
        ),
    ] {
        database.execute(setup);
        for path in [list, item] {
            let reply = get(&app, path).await;
            assert_eq!(
                (reply.status, &reply.json),
                (500, &json!({"detail": "A server error occurred."})),
                "{setup}: {path}"
            );
            let written = log.take();
            assert!(
                written.contains(logged),
                "{setup}: {path}: the log says:\n{written}"
            );
        }
        database.execute(cleanup);
    }
}
