//! Unavailable projects, platform migrations and allowed hosts.

use super::*;

on_both_backends!(
    unavailable_project_answers_503,
    unavailable_project_scenario
);
async fn unavailable_project_scenario(backend: Backend) {
    // Nothing listens on port 9: the connection is refused at once.
    let fixture = kit(
        backend,
        &[("down", "postgres://postgres@127.0.0.1:9/nothing")],
        |config| {
            config.pool.checkout_timeout_ms = 300;
        },
    );
    let app = app(&fixture).await;
    let down = get(&app, "/api/v1/down/data_point/").await;
    assert_eq!(down.status, 503);
    assert_eq!(
        down.json,
        json!({"detail": "The project database is unavailable. Try again later."})
    );
    assert_eq!(down.headers.get(header::RETRY_AFTER).unwrap(), "5");
    assert!(
        !down
            .body
            .windows(4)
            .any(|window| window == b"5432" || window == b"127."),
        "no URL in the answer"
    );
    let alpha = get(&app, "/api/v1/alpha/data_point/").await;
    assert_eq!(alpha.status, 200, "other projects keep serving");
}

#[actix_web::test]
async fn platform_database_migrates_on_postgres() {
    let database = TestDatabase::postgres();
    let (mut connection, applied) = platform::open_and_migrate(&database.url).unwrap();
    assert_eq!(
        applied,
        [
            "20261126000001",
            "20261126000002",
            "20261126000003",
            "20261205000004"
        ]
    );
    assert!(
        platform::migrate(&mut connection).unwrap().is_empty(),
        "a second run applies nothing"
    );
    assert_eq!(
        platform::add_project(&mut connection, "acme", "a.db").unwrap(),
        platform::AddOutcome::Added
    );
    let projects = platform::enabled_projects(&mut connection).unwrap();
    assert_eq!(
        projects
            .iter()
            .map(|project| project.name.as_str())
            .collect::<Vec<_>>(),
        ["acme"]
    );
    // Every server on this platform database signs cursors with one key, made once.
    let key = platform::cursor_key(&mut connection).unwrap();
    let (mut other_server, _) = platform::open_and_migrate(&database.url).unwrap();
    assert_eq!(platform::cursor_key(&mut other_server).unwrap(), key);
}

on_both_backends!(
    hosts_outside_allowed_hosts_are_refused,
    allowed_hosts_scenario
);
async fn allowed_hosts_scenario(backend: Backend) {
    let fixture = kit(backend, &[], |config| {
        config.api.allowed_hosts = vec!["api.example.com".into()]
    });
    let app = app(&fixture).await;
    let request = |host: &'static str| {
        test::TestRequest::get()
            .uri("/api/v1/alpha/data_point/?page_size=1")
            .insert_header((header::HOST, host))
    };
    let refused = send(&app, request("evil.example.net")).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            400,
            json!({"detail": "Invalid host \"evil.example.net\": it is not in api.allowed_hosts."})
        )
    );
    let allowed = send(&app, request("api.example.com:8443")).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.json["next"],
        "http://api.example.com:8443/api/v1/alpha/data_point/?page_size=1&page=2"
    );
    // /readyz honours it too.
    let readiness = |host: &'static str| {
        test::TestRequest::get()
            .uri("/readyz")
            .insert_header((header::HOST, host))
    };
    assert_eq!(send(&app, readiness("evil.example.net")).await.status, 400);
    assert_eq!(send(&app, readiness("api.example.com")).await.status, 200);
}

/// Issue 24: a read that met SQLite's lock, held by another process past the busy timeout,
/// answered 500; the database is busy, and the answer is 503 with `Retry-After`.
///
/// In WAL mode, which the server sets, no lock of a writer keeps readers out; this project's
/// URL names a VFS without shared memory (`unix-dotfile`, for file systems without it), where
/// SQLite stays in rollback-journal mode and another connection's exclusive transaction keeps
/// readers out as it would on such a file system. SQLite only: PostgreSQL reads take no lock
/// that a writer holds.
#[actix_web::test]
async fn a_sqlite_lock_held_past_the_busy_timeout_answers_503_to_a_read() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let database = TestDatabase::new(Backend::Sqlite);
    database.execute("PRAGMA journal_mode = DELETE");
    let url = format!("file:{}?vfs=unix-dotfile", database.url);
    let fixture = kit(Backend::Sqlite, &[("locked", &url)], |_| {});
    let app = app(&fixture).await;
    let list = "/api/v1/locked/tag/";
    let before = get(&app, list).await;
    assert_eq!(before.status, 200, "{}", before.json);

    let mut holder = diesel::SqliteConnection::establish(&url).unwrap();
    holder.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let locked = get(&app, list).await;
    assert_detail(&locked, 503, |detail| {
        detail == "The project database is busy. Try again."
    });
    assert_eq!(locked.headers.get(header::RETRY_AFTER).unwrap(), "1");

    holder.batch_execute("ROLLBACK").unwrap();
    let after = get(&app, list).await;
    assert_eq!(after.status, 200, "{}", after.json);
}

/// Issue 24 (found beside the empty-list defect): a write to a database that refuses writes
/// (here a SQLite file opened read-only) answered 500; nothing the client sent explains it, so
/// it is 503 with `Retry-After`, and reads go on.
#[actix_web::test]
async fn a_database_that_refuses_writes_answers_503_to_a_write() {
    let database = TestDatabase::new(Backend::Sqlite);
    let url = format!("file:{}?mode=ro", database.url);
    let fixture = kit(Backend::Sqlite, &[("frozen", &url)], |_| {});
    let app = app(&fixture).await;
    let list = "/api/v1/frozen/tag/";
    let read = get(&app, list).await;
    assert_eq!(read.status, 200, "{}", read.json);
    for body in [json!({"label": "one"}), json!([{"label": "two"}])] {
        let refused = call(&app, Method::POST, list, Some(body.clone())).await;
        assert_detail(&refused, 503, |detail| {
            detail == "The project database does not accept writes right now. Try again later."
        });
        assert_eq!(
            refused.headers.get(header::RETRY_AFTER).unwrap(),
            "30",
            "{body}"
        );
    }
}
