//! The test kit itself: fixtures with explicit keys on both backends, clear fixture errors,
//! isolated parallel kits, leftovers of killed runs, a real server, and dump/load round trips.

use std::io::{Read as _, Write as _};

use serde_json::json;
use tenantapi_testkit::{Backend, Role, TestDatabase, TestKit, dump, load_fixture_text};

fn every_type_rows() -> serde_json::Value {
    json!({
        "data_point": [{"id": 10, "name": "meter", "unit": "kWh", "site_id": 5}],
        "site": [{"id": 5, "code": "N", "name": "North", "external_ref": "6f1c1f4e-2b8c-4c7e-9a51-0d3e5b8f2a10", "commissioned_on": "2020-01-02"}],
        "reading": [{"id": 7, "data_point_id": 10, "measured_at": "2024-06-01T10:00:00Z", "value": "1.500000", "raw": "AAE=", "recorded_at": "2024-06-01T10:00:01Z"}],
        "maintenance-window": [{"id": 3, "site_id": 5, "starts_at": "2024-07-01T06:00:00", "daily_start": "06:00:00", "details": {"crew": 2}, "self": "ops"}]
    })
}

async fn fixtures_keep_explicit_keys_and_the_api_continues_after_them(backend: Backend) {
    let kit = TestKit::builder(backend)
        .project_with_rows("alpha", every_type_rows())
        .user("ann", &[("alpha", Role::Write)])
        .build()
        .unwrap();
    let app = kit.service().await;
    let point = kit
        .call(
            &app,
            "GET",
            "/api/v1/alpha/data_point/10/",
            Some("ann"),
            None,
        )
        .await;
    assert_eq!(point.json["site_id"], 5, "{:?}", point.json);
    // Referenced tables were loaded first although the fixture lists them later, and the
    // next generated key follows the explicit ones.
    let created = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/data_point/",
            Some("ann"),
            Some(json!({"name": "next"})),
        )
        .await;
    assert_eq!(
        (created.status, created.json["id"].clone()),
        (201, json!(11))
    );
    let reading = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/reading/",
            Some("ann"),
            Some(json!({"data_point_id": 10, "measured_at": "2024-06-02T00:00:00Z", "value": 2})),
        )
        .await;
    assert_eq!(reading.json["id"], 8, "{:?}", reading.json);
}

#[actix_web::test]
async fn fixtures_keep_explicit_keys_on_sqlite() {
    fixtures_keep_explicit_keys_and_the_api_continues_after_them(Backend::Sqlite).await;
}

#[actix_web::test]
async fn fixtures_keep_explicit_keys_on_postgres() {
    fixtures_keep_explicit_keys_and_the_api_continues_after_them(Backend::Postgres).await;
}

#[test]
fn bad_fixtures_name_the_file_table_row_and_column() {
    let dir = std::env::temp_dir().join(format!("tenantapi-kit-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alpha.json");
    std::fs::write(
        &file,
        r#"{"data_point": [{"id": 1, "name": "a"}, {"id": "two", "name": "b"}]}"#,
    )
    .unwrap();
    let error = TestKit::builder(Backend::Sqlite)
        .project("alpha", Some(file.to_str().unwrap()))
        .build()
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: table data_point, row 1: column id: A valid integer is required.",
            file.display()
        )
    );
    let error = TestKit::builder(Backend::Sqlite)
        .project_with_rows("beta", json!({"data_points": []}))
        .build()
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("rows of project beta: unknown table \"data_points\""),
        "{error}"
    );
    let error = TestKit::builder(Backend::Sqlite)
        .project_with_rows(
            "beta",
            json!({"tag": [{"id": 1, "label": "x", "colour": "red"}]}),
        )
        .build()
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "rows of project beta: table tag, row 0: unknown column \"colour\""
    );
    let missing = TestKit::builder(Backend::Sqlite)
        .project("gamma", Some("no/such/file.json"))
        .build()
        .err()
        .unwrap();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read fixture file no/such/file.json"),
        "{missing}"
    );
}

#[test]
fn a_failing_row_names_its_place_and_nothing_is_loaded() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::new(backend);
        // 250 rows in batches of one statement each; the duplicate is row 201, in the third.
        let mut tags: Vec<serde_json::Value> = (1..=250)
            .map(|id| json!({"id": id, "label": format!("tag-{id}")}))
            .collect();
        tags[201]["label"] = json!("tag-5");
        let text = json!({"tag": tags}).to_string();
        let error = load_fixture_text(&database, "tags.json", &text)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("tags.json: table tag, row 201: "),
            "{backend:?}: {error}"
        );
        assert_eq!(
            dump(&database),
            json!({}),
            "{backend:?}: one transaction, so nothing is loaded"
        );
    }
}

#[test]
fn rows_with_different_columns_load_in_order() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::new(backend);
        let rows = json!({"tag": [
            {"id": 1, "label": "a"},
            {"id": 2, "label": "b", "color": "#fff"},
            {"id": 3, "label": "c"},
            {"id": 4, "label": "d", "weight": 2.5}
        ]});
        assert_eq!(
            load_fixture_text(&database, "tags.json", &rows.to_string()).unwrap(),
            4
        );
        let tags = dump(&database)["tag"].clone();
        assert_eq!(tags[1]["color"], "#fff", "{backend:?}");
        assert_eq!(tags[2]["color"], serde_json::Value::Null, "{backend:?}");
        assert_eq!(tags[3]["weight"], 2.5, "{backend:?}");
    }
}

#[test]
fn parallel_kits_never_share_a_database() {
    let kits: Vec<TestKit> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|index| {
                scope.spawn(move || {
                    TestKit::builder(if index % 2 == 0 {
                        Backend::Sqlite
                    } else {
                        Backend::Postgres
                    })
                    .project_with_rows(
                        "alpha",
                        json!({"tag": [{"id": 1, "label": format!("kit-{index}")}]}),
                    )
                    .build()
                    .unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let urls: std::collections::BTreeSet<&str> = kits
        .iter()
        .map(|kit| kit.database("alpha").url.as_str())
        .collect();
    assert_eq!(urls.len(), 4);
    for (index, kit) in kits.iter().enumerate() {
        assert_eq!(
            dump(kit.database("alpha")),
            json!({"tag": [{"id": 1, "label": format!("kit-{index}"), "color": null, "weight": 1.0, "usage_count": 0, "kind": "topic"}]})
        );
    }
}

#[test]
fn databases_are_dropped_with_their_owner_and_leftovers_of_dead_runs_are_removed() {
    // A leftover of a process that no longer exists (pid 999999999 never runs).
    let leftover = std::env::temp_dir().join("tenantapi_test_999999999_0.db");
    std::fs::write(&leftover, b"").unwrap();
    let server = tenantapi_testkit::postgres_server_url();
    let mut admin =
        <diesel::PgConnection as diesel::Connection>::establish(&format!("{server}/postgres"))
            .unwrap();
    // Two calls: PostgreSQL runs a multi-statement string as one transaction, which these refuse.
    for statement in [
        "DROP DATABASE IF EXISTS tenantapi_test_999999999_0",
        "CREATE DATABASE tenantapi_test_999999999_0",
    ] {
        diesel::connection::SimpleConnection::batch_execute(&mut admin, statement).unwrap();
    }
    // The cleanup runs once per process, before its first throwaway database of each kind. This
    // test binary may have created some already, so run it the way a fresh process would.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fresh_process_creates_one_database_of_each_kind",
            "--nocapture",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!leftover.exists(), "the leftover file was removed");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let remaining: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT COUNT(*) AS n FROM pg_database WHERE datname = 'tenantapi_test_999999999_0'",
        ),
        &mut admin,
    )
    .unwrap();
    assert_eq!(remaining.n, 0, "the leftover database was dropped");

    let database = TestDatabase::postgres();
    let name = database.url.rsplit('/').next().unwrap().to_string();
    let file_database = TestDatabase::sqlite();
    let path = std::path::PathBuf::from(&file_database.url);
    assert!(path.exists());
    drop((database, file_database));
    let remaining: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM pg_database WHERE datname = '{name}'"
        )),
        &mut admin,
    )
    .unwrap();
    assert_eq!(remaining.n, 0, "dropped with its owner");
    assert!(!path.exists(), "removed with its owner");
}

/// Run by the test above in a fresh process.
#[test]
fn fresh_process_creates_one_database_of_each_kind() {
    let _sqlite = TestDatabase::sqlite();
    let _postgres = TestDatabase::postgres();
}

#[test]
fn a_real_server_answers_on_a_loopback_port() {
    let kit = TestKit::builder(Backend::Sqlite)
        .project_with_rows("alpha", json!({"tag": [{"id": 1, "label": "energy"}]}))
        .user("ann", &[("alpha", Role::Read)])
        .build()
        .unwrap();
    let server = kit.serve();
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    write!(
        stream,
        "GET /api/v1/alpha/tag/1/ HTTP/1.1\r\nHost: {}\r\nAuthorization: Token {}\r\nConnection: close\r\n\r\n",
        server.address,
        kit.token("ann")
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.ends_with(
            r#"{"id":1,"label":"energy","color":null,"weight":1.0,"usage_count":0,"kind":"topic"}"#
        ),
        "{response}"
    );
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
}

fn dump_load_round_trip(backend: Backend) {
    let source = TestDatabase::new(backend);
    load_fixture_text(&source, "rows.json", &every_type_rows().to_string()).unwrap();
    let dumped = dump(&source);
    let copy = TestDatabase::new(backend);
    load_fixture_text(&copy, "dump.json", &dumped.to_string()).unwrap();
    assert_eq!(dump(&copy), dumped);
    assert_eq!(dumped["reading"][0]["value"], "1.500000");
}

#[test]
fn dumps_load_back_identically_on_sqlite() {
    dump_load_round_trip(Backend::Sqlite);
}

#[test]
fn dumps_load_back_identically_on_postgres() {
    dump_load_round_trip(Backend::Postgres);
}
