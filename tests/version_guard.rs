//! The structure version guard over HTTP, on SQLite and PostgreSQL: matching, older and newer
//! versions, a missing version table, a version changed while the server runs, and /readyz.

use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use serde_json::{Value, json};
use tenantapi_server::registry::Registry;
use tenantapi_testkit::{Backend, Reply, Role, TestKit, on_both_backends, request, send};

/// The kit's users: `writer` may write alpha, `outsider` has no grant, and `admin`, a superuser,
/// sees each project's state in /readyz.
struct Setup {
    kit: TestKit,
    registry: Arc<Registry>,
}

/// Project `alpha` (one tag) and any `extra_projects` by URL.
fn setup(backend: Backend, extra_projects: &[(&str, &str)]) -> Setup {
    let mut builder = TestKit::builder(backend)
        .project_with_rows("alpha", json!({"tag": [{"id": 1, "label": "first"}]}))
        .user("writer", &[("alpha", Role::Write)])
        .user("outsider", &[])
        .superuser("admin")
        .configure(|config| config.pool.checkout_timeout_ms = 500);
    for (name, url) in extra_projects {
        builder = builder.external_project(name, url);
    }
    let kit = builder.build().expect("test kit");
    Setup {
        registry: kit.registry(),
        kit,
    }
}

async fn app(
    setup: &Setup,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    setup.kit.service().await
}

/// Runs the periodic check now, off the async threads as the server does.
async fn check_now(setup: &Setup) {
    let registry = setup.registry.clone();
    actix_web::web::block(move || registry.check_all_now())
        .await
        .unwrap();
}

/// The labels of alpha's tags, by id, read straight from the database.
fn tag_labels(setup: &Setup) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Label {
        #[diesel(sql_type = diesel::sql_types::Text)]
        label: String,
    }
    diesel::sql_query("SELECT label FROM tag ORDER BY id")
        .load::<Label>(&mut setup.kit.database("alpha").connect())
        .unwrap()
        .into_iter()
        .map(|row| row.label)
        .collect()
}

fn mismatch_detail(found: &str) -> Value {
    json!({"detail": format!(
        "The project database has structure version \"{found}\"; this server serves \"{}\", \"2024.04.0\". It is unavailable until it records a served version.",
        tenantapi_generated::SCHEMA_VERSION
    )})
}

on_both_backends!(
    older_and_newer_versions_are_not_served,
    older_and_newer_versions
);
async fn older_and_newer_versions(backend: Backend) {
    let setup = setup(backend, &[]);
    let app = app(&setup).await;
    check_now(&setup).await;
    let served = setup
        .kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
        .await;
    assert_eq!(served.status, 200, "matching version");
    assert_eq!(
        served
            .headers
            .get("x-structure-version")
            .map(|value| value.to_str().unwrap()),
        Some(tenantapi_generated::SCHEMA_VERSION),
        "a project route's answer names its structure version"
    );
    for (path, user) in [
        ("/api/v1/alpha/tag/", Some("outsider")),
        ("/api/v1/alpha/tag/", None),
        ("/api/v1/nowhere/tag/", Some("writer")),
    ] {
        let hidden = setup.kit.call(&app, "GET", path, user, None).await;
        assert!(
            hidden.headers.get("x-structure-version").is_none(),
            "{path} as {user:?}: {}",
            hidden.status
        );
    }
    let Reply {
        status, json: body, ..
    } = setup
        .kit
        .call(&app, "GET", "/readyz", Some("admin"), None)
        .await;
    assert_eq!(
        (
            status,
            body["ready"].clone(),
            body["projects"]["alpha"]["status"].clone()
        ),
        (200, json!(true), json!("ok"))
    );

    for other in ["2023.01.0", "2099.12.9"] {
        setup
            .kit
            .database("alpha")
            .execute(&format!("UPDATE schema_version SET version = '{other}';"));
        check_now(&setup).await;
        let Reply {
            status, json: body, ..
        } = setup
            .kit
            .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
            .await;
        assert_eq!((status, body), (503, mismatch_detail(other)), "{other}");
        // Only callers granted on the project learn about its versions.
        let outsider = setup
            .kit
            .call(&app, "GET", "/api/v1/alpha/tag/", Some("outsider"), None)
            .await;
        assert_eq!(
            (outsider.status, outsider.json),
            (404, json!({"detail": "Not found."}))
        );
        assert_eq!(
            setup
                .kit
                .call(&app, "GET", "/api/v1/alpha/tag/", None, None)
                .await
                .status,
            401
        );
        let Reply {
            status, json: body, ..
        } = setup
            .kit
            .call(&app, "GET", "/readyz", Some("admin"), None)
            .await;
        assert_eq!(status, 503);
        assert_eq!(
            body["projects"]["alpha"],
            json!({"status": "version mismatch", "expected": [tenantapi_generated::SCHEMA_VERSION, "2024.04.0"], "found": other})
        );
        // The rollout summary: the project counted under the version it records.
        assert_eq!(body["versions"], json!({other: 1}), "{body}");
    }

    // It comes back by itself once the versions match again.
    setup.kit.database("alpha").execute(&format!(
        "UPDATE schema_version SET version = '{}';",
        tenantapi_generated::SCHEMA_VERSION
    ));
    check_now(&setup).await;
    assert_eq!(
        setup
            .kit
            .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
            .await
            .status,
        200
    );
}

on_both_backends!(a_missing_version_table_is_not_served, missing_version_table);
async fn missing_version_table(backend: Backend) {
    let setup = setup(backend, &[]);
    let app = app(&setup).await;
    setup
        .kit
        .database("alpha")
        .execute("DROP TABLE schema_version;");
    check_now(&setup).await;
    let Reply {
        status, json: body, ..
    } = setup
        .kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
        .await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({"detail": "The project database's structure version cannot be read. It is unavailable until it can."})
        )
    );
    let Reply { json: body, .. } = setup
        .kit
        .call(&app, "GET", "/readyz", Some("admin"), None)
        .await;
    assert_eq!(body["projects"]["alpha"]["status"], "version unreadable");
}

on_both_backends!(
    a_version_changed_while_serving_blocks_writes_at_once,
    version_changed_while_serving
);
async fn version_changed_while_serving(backend: Backend) {
    let setup = setup(backend, &[]);
    let app = app(&setup).await;
    check_now(&setup).await;
    let created = setup
        .kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("writer"),
            Some(json!({"label": "before"})),
        )
        .await;
    assert_eq!(created.status, 201);

    // The external system migrates the database while the server runs.
    setup
        .kit
        .database("alpha")
        .execute("UPDATE schema_version SET version = '2099.1';");
    // Before the periodic check notices, a write still checks the version in its own
    // transaction, so it is refused and nothing is written.
    let refused = setup
        .kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("writer"),
            Some(json!({"label": "after"})),
        )
        .await;
    assert_eq!(
        (refused.status, refused.json),
        (503, mismatch_detail("2099.1"))
    );
    let patch = setup
        .kit
        .call(
            &app,
            "PATCH",
            "/api/v1/alpha/tag/1/",
            Some("writer"),
            Some(json!({"label": "renamed"})),
        )
        .await;
    assert_eq!(patch.status, 503);
    let delete = setup
        .kit
        .call(&app, "DELETE", "/api/v1/alpha/tag/1/", Some("writer"), None)
        .await;
    assert_eq!(delete.status, 503);
    let rows = tag_labels(&setup);
    assert_eq!(
        rows,
        ["first", "before"],
        "no write landed after the version changed"
    );

    // Within the check interval, reads stop too.
    check_now(&setup).await;
    assert_eq!(
        setup
            .kit
            .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
            .await
            .status,
        503
    );
}

on_both_backends!(health_endpoints_report_each_project, health_endpoints);
async fn health_endpoints(backend: Backend) {
    let setup = setup(
        backend,
        &[("down", "postgres://postgres@127.0.0.1:9/nothing")],
    );
    let app = app(&setup).await;
    check_now(&setup).await;
    let healthz = setup.kit.call(&app, "GET", "/healthz", None, None).await;
    assert_eq!(
        (healthz.status, healthz.json),
        (200, json!({"status": "ok"}))
    );
    let Reply {
        status, json: body, ..
    } = setup
        .kit
        .call(&app, "GET", "/readyz", Some("admin"), None)
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["projects"]["alpha"]["status"], "ok");
    assert_eq!(body["projects"]["down"]["status"], "unreachable");
    let text = body.to_string();
    assert!(
        !text.contains("postgres://") && !text.contains("127.0.0.1"),
        "no URLs in /readyz: {text}"
    );
    // Without a superuser's credentials: the verdict and counts, nothing about projects.
    for user in [None, Some("writer")] {
        let Reply {
            status, json: body, ..
        } = setup.kit.call(&app, "GET", "/readyz", user, None).await;
        assert_eq!(
            (status, body),
            (
                503,
                json!({"ready": false, "counts": {"projects": 2, "ready": 1, "not_ready": 1}})
            )
        );
    }
    let Reply {
        status, json: body, ..
    } = send(
        &app,
        request("GET", "/readyz", Some("Token not-a-token"), None),
    )
    .await;
    assert_eq!((status, body), (401, json!({"detail": "Invalid token."})));
}

/// How writers racing a migration fared.
struct Race {
    migration: Result<(), String>,
    /// How long the migration's transaction took.
    migration_took: std::time::Duration,
    created: usize,
    refused: usize,
    /// Labels of the table's rows afterwards.
    labels: Vec<String>,
}

/// Eight writers POST tags while a migration on its own connection runs `migration` (one
/// transaction that changes the version), until it has ended.
async fn writers_racing(migration: &'static str) -> Race {
    use std::sync::atomic::{AtomicBool, Ordering};
    let setup = setup(Backend::Postgres, &[]);
    let app = app(&setup).await;
    check_now(&setup).await;
    let url = setup.kit.database("alpha").url.clone();
    let done = Arc::new(AtomicBool::new(false));
    let migration_done = done.clone();
    let migration = std::thread::spawn(move || {
        use diesel::connection::SimpleConnection as _;
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut connection = tenantapi_runtime::connections::db::DbConnection::open(&url).unwrap();
        let started = std::time::Instant::now();
        let result = connection
            .batch_execute(migration)
            .map_err(|error| error.to_string());
        let took = started.elapsed();
        migration_done.store(true, Ordering::SeqCst);
        (result, took)
    });
    let writer = |number: usize| {
        let (app, kit, done) = (&app, &setup.kit, done.clone());
        async move {
            let (mut created, mut refused) = (0, 0);
            let mut sent = 0;
            // Until the migration ended, and a few writes after.
            let mut after = 0;
            while after < 3 {
                if done.load(Ordering::SeqCst) {
                    after += 1;
                }
                sent += 1;
                let reply = kit
                    .call(
                        app,
                        "POST",
                        "/api/v1/alpha/tag/",
                        Some("writer"),
                        Some(json!({"label": format!("w{number}-{sent}")})),
                    )
                    .await;
                match reply.status {
                    201 => created += 1,
                    503 => refused += 1,
                    other => panic!("a write answered {other}: {}", reply.json),
                }
            }
            (created, refused)
        }
    };
    let outcomes = futures_util::future::join_all((0..8).map(writer)).await;
    let (migration, migration_took) = migration.join().expect("the migration thread");
    let labels = tag_labels(&setup);
    Race {
        migration,
        migration_took,
        created: outcomes.iter().map(|(created, _)| created).sum(),
        refused: outcomes.iter().map(|(_, refused)| refused).sum(),
        labels,
    }
}

/// Issue 26: a single-row write is one statement that checks the version itself. A migration
/// that changes the version first and then rewrites every row (a data migration, no DDL; its
/// rewrite sees the rows committed when it starts and takes a while) must find every row the
/// API wrote: each write committed before the migration took the version row (which it waits
/// for), or was refused. A row written meanwhile would keep its unmigrated label. (A check that
/// read the version without locking it let such rows through.)
#[actix_web::test]
async fn no_write_escapes_a_data_migration_running_beside_it() {
    let race = writers_racing(
        "BEGIN;
         UPDATE schema_version SET version = '2099.1';
         SELECT pg_sleep(0.2);
         UPDATE tag SET label = 'migrated:' || label FROM (SELECT pg_sleep(0.3)) AS pause;
         COMMIT;",
    )
    .await;
    assert_eq!(race.migration, Ok(()));
    assert!(
        race.created > 0 && race.refused > 0,
        "{} created, {} refused",
        race.created,
        race.refused
    );
    let escaped: Vec<&String> = race
        .labels
        .iter()
        .filter(|label| !label.starts_with("migrated:"))
        .collect();
    assert!(
        escaped.is_empty(),
        "written beside the migration: {escaped:?}"
    );
    assert_eq!(
        race.labels.len(),
        race.created + 1,
        "the first tag and every 201"
    );
}

/// Issue 26: a migration that changes the version first and then alters the written table
/// (needing the table lock every write holds) is not deadlocked by the writes, which meet its
/// lock on the version row and are refused instead of waiting for it. (Writes that waited for
/// it made PostgreSQL detect a deadlock after `deadlock_timeout`, 1 s, and abort one side.)
#[actix_web::test]
async fn writes_never_deadlock_a_migration_that_changes_the_version_first() {
    let race = writers_racing(
        "BEGIN;
         UPDATE schema_version SET version = '2099.1';
         SELECT pg_sleep(0.2);
         ALTER TABLE tag ADD COLUMN migrated boolean NOT NULL DEFAULT true;
         COMMIT;",
    )
    .await;
    assert_eq!(race.migration, Ok(()));
    assert!(
        race.migration_took < std::time::Duration::from_millis(800),
        "the migration waited {:?}",
        race.migration_took
    );
    assert!(
        race.created > 0 && race.refused > 0,
        "{} created, {} refused",
        race.created,
        race.refused
    );
    assert_eq!(race.labels.len(), race.created + 1);
}

/// Issue 26: a write that meets a migration holding the version row is refused at once (503,
/// try again), not kept waiting for the migration; reads go on.
#[actix_web::test]
async fn writes_meeting_a_migration_in_progress_are_refused_at_once() {
    use diesel::connection::SimpleConnection as _;
    let setup = setup(Backend::Postgres, &[]);
    let app = app(&setup).await;
    check_now(&setup).await;
    let mut migration =
        tenantapi_runtime::connections::db::DbConnection::open(&setup.kit.database("alpha").url)
            .unwrap();
    migration
        .batch_execute("BEGIN; UPDATE schema_version SET version = version;")
        .unwrap();
    let changing =
        json!({"detail": "The project database's structure version is being changed. Try again."});
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/alpha/tag/",
            Some(json!({"label": "during"})),
        ),
        (
            "PATCH",
            "/api/v1/alpha/tag/1/",
            Some(json!({"label": "during"})),
        ),
        ("DELETE", "/api/v1/alpha/tag/1/", None),
    ] {
        let started = std::time::Instant::now();
        let reply = setup
            .kit
            .call(&app, method, path, Some("writer"), body)
            .await;
        assert_eq!((reply.status, &reply.json), (503, &changing), "{method}");
        assert!(reply.headers.contains_key("retry-after"), "{method}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{method}"
        );
    }
    let read = setup
        .kit
        .call(&app, "GET", "/api/v1/alpha/tag/1/", Some("writer"), None)
        .await;
    assert_eq!(read.status, 200, "{}", read.json);
    migration.batch_execute("ROLLBACK").unwrap();
    let written = setup
        .kit
        .call(
            &app,
            "PATCH",
            "/api/v1/alpha/tag/1/",
            Some("writer"),
            Some(json!({"label": "after"})),
        )
        .await;
    assert_eq!(written.status, 200, "{}", written.json);
}

on_both_backends!(
    a_structure_changed_under_its_version_answers_503_naming_what_is_missing,
    structure_changed_under_its_version
);
/// Regression: a database whose structure was changed without its version (a column dropped,
/// a table dropped) answered 500 "no such column" to every read of the table.
async fn structure_changed_under_its_version(backend: Backend) {
    let setup = setup(backend, &[]);
    let app = app(&setup).await;
    check_now(&setup).await;
    // Migrated away, then back to the served version by a migration that forgot part of the
    // structure (the version string lied). The structure is verified once per version found
    // matching, by the first check after the migration; superusers see what differs.
    let database = setup.kit.database("alpha");
    database.migrate("", "2099.12.9");
    check_now(&setup).await;
    database.migrate(
        "ALTER TABLE data_point DROP COLUMN unit; DROP TABLE \"maintenance-window\";",
        tenantapi_generated::SCHEMA_VERSION,
    );
    check_now(&setup).await;
    let ready = setup
        .kit
        .call(&app, "GET", "/readyz", Some("admin"), None)
        .await;
    assert_eq!(
        ready.json["projects"]["alpha"]["structure_drift"],
        json!([
            "table data_point: missing column unit",
            "missing table maintenance-window"
        ]),
        "{}",
        ready.json
    );
    for (path, missing) in [
        ("/api/v1/alpha/data_point/", "unit"),
        ("/api/v1/alpha/maintenance-window/", "maintenance-window"),
    ] {
        let Reply {
            status, json: body, ..
        } = setup
            .kit
            .call(&app, "GET", path, Some("writer"), None)
            .await;
        let detail = body["detail"].as_str().unwrap_or_default();
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            detail.contains(missing) && detail.contains("tenantapi check --structure"),
            "{path}: {detail}"
        );
    }
    let tags = setup
        .kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
        .await;
    assert_eq!(tags.status, 200, "the tables it still has are served");
}
