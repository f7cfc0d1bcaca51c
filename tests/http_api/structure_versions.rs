//! Several structure versions served by one server, on SQLite and PostgreSQL: projects at the
//! newest version and at the one in `schema/previous/` side by side with their own shapes and
//! documents; a project migrated while a client reads it without pause; a write that meets the
//! switch; the version each answer was served at.

use std::time::{Duration, Instant};

use actix_web::http::header;
use serde_json::{Value, json};
use tenantapi_testkit::{Backend, TestKit, on_both_backends};

use crate::schema_check;

const NEWEST: &str = tenantapi_generated::SCHEMA_VERSION;
const PREVIOUS: &str = "2024.04.0";

/// The previous version is the one `schema/previous/2024.04.0.toml` describes.
#[test]
fn the_build_serves_the_previous_version_beside_the_newest() {
    let served: Vec<&str> = tenantapi_generated::API
        .versions()
        .map(|api| api.schema_version)
        .collect();
    assert_eq!(served, [NEWEST, PREVIOUS]);
}

/// `old` at the previous version (`data_point.unit_name`, no `maintenance-window`), `new` at
/// the newest (`data_point.unit`), each with one data point; `tester` may do everything.
fn kit(backend: Backend) -> TestKit {
    TestKit::builder(backend)
        .project_at_version(
            "old",
            PREVIOUS,
            json!({"data_point": [{"id": 1, "name": "meter", "unit_name": "kWh"}]}),
        )
        .project_with_rows(
            "new",
            json!({"data_point": [{"id": 1, "name": "meter", "unit": "kWh"}]}),
        )
        .superuser("tester")
        .configure(|config| config.version_check_seconds = 1)
        .build()
        .expect("test kit")
}

/// What the system that owns the structure runs to move a project from the previous version
/// to the newest: the rename and the new table (its statement as the newest DDL has it).
fn migration_to_newest(backend: Backend) -> String {
    let newest_ddl = match backend {
        Backend::Sqlite => tenantapi_generated::API.sqlite_ddl,
        Backend::Postgres => tenantapi_generated::API.postgres_ddl,
    };
    let create_window = newest_ddl
        .split("\n\n")
        .find(|statement| statement.contains("CREATE TABLE \"maintenance-window\""))
        .expect("the newest DDL creates maintenance-window");
    format!("ALTER TABLE data_point RENAME COLUMN unit_name TO unit;\n{create_window}")
}

fn served_at(reply: &tenantapi_testkit::Reply) -> Option<&str> {
    reply
        .headers
        .get("x-structure-version")
        .and_then(|value| value.to_str().ok())
}

on_both_backends!(
    two_versions_are_served_side_by_side,
    two_versions_side_by_side
);

async fn two_versions_side_by_side(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let tester = Some("tester");

    let old_root = kit
        .call(&service, "GET", "/api/v1/old/", tester, None)
        .await;
    let new_root = kit
        .call(&service, "GET", "/api/v1/new/", tester, None)
        .await;
    assert_eq!(old_root.status, 200, "{}", old_root.json);
    assert_eq!(served_at(&old_root), Some(PREVIOUS));
    assert_eq!(served_at(&new_root), Some(NEWEST));
    assert!(old_root.json.get("maintenance-window").is_none());
    assert!(new_root.json["maintenance-window"].is_string());
    assert!(old_root.json["data_point"].is_string());

    let old_row = kit
        .call(&service, "GET", "/api/v1/old/data_point/1/", tester, None)
        .await;
    let new_row = kit
        .call(&service, "GET", "/api/v1/new/data_point/1/", tester, None)
        .await;
    assert_eq!(old_row.json["unit_name"], "kWh", "{}", old_row.json);
    assert!(old_row.json.get("unit").is_none());
    assert_eq!(new_row.json["unit"], "kWh", "{}", new_row.json);
    assert_eq!(served_at(&old_row), Some(PREVIOUS));

    let options = kit
        .call(&service, "OPTIONS", "/api/v1/old/data_point/", tester, None)
        .await;
    assert!(options.json["actions"]["POST"]["unit_name"].is_object());
    assert!(options.json["actions"]["POST"].get("unit").is_none());

    // Writes validate against the project's own version.
    let wrong = kit
        .call(
            &service,
            "POST",
            "/api/v1/old/data_point/",
            tester,
            Some(json!({"name": "gas", "unit": "m3"})),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.json);
    assert!(wrong.json.to_string().contains("unit"), "{}", wrong.json);
    let created = kit
        .call(
            &service,
            "POST",
            "/api/v1/old/data_point/",
            tester,
            Some(json!({"name": "gas", "unit_name": "m3"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["unit_name"], "m3");
    assert_eq!(served_at(&created), Some(PREVIOUS));
    let patched = kit
        .call(
            &service,
            "PATCH",
            "/api/v1/new/data_point/1/",
            tester,
            Some(json!({"unit_name": "MWh"})),
        )
        .await;
    assert_eq!(patched.status, 400, "{}", patched.json);

    // A table of the newest version only is not there at the previous one.
    let missing = kit
        .call(
            &service,
            "GET",
            "/api/v1/old/maintenance-window/",
            tester,
            None,
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.json);
    let present = kit
        .call(
            &service,
            "GET",
            "/api/v1/new/maintenance-window/",
            tester,
            None,
        )
        .await;
    assert_eq!(present.status, 200, "{}", present.json);
    // A table no served version has is 404 before anyone is authenticated.
    let unknown = kit
        .call(&service, "GET", "/api/v1/old/no_such_table/", None, None)
        .await;
    assert_eq!(unknown.status, 404);

    // Each version's document, and the previous version's answers checked against its own.
    let newest_document = kit
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await;
    assert_eq!(newest_document.json["info"]["version"], NEWEST);
    let previous_document = kit
        .call(
            &service,
            "GET",
            &format!("/api/v1/schema/?version={PREVIOUS}"),
            None,
            None,
        )
        .await;
    assert_eq!(previous_document.status, 200);
    let document = &previous_document.json;
    assert_eq!(document["info"]["version"], PREVIOUS);
    assert!(document["paths"]["/{project}/maintenance-window/"].is_null());
    assert_eq!(
        document["components"]["headers"]["X-Structure-Version"]["schema"]["const"], PREVIOUS,
        "its answers name its version"
    );
    assert!(document["components"]["schemas"]["DataPoint"]["properties"]["unit_name"].is_object());
    for (template, path) in [
        ("/{project}/data_point/", "/api/v1/old/data_point/"),
        ("/{project}/data_point/{pk}/", "/api/v1/old/data_point/1/"),
        ("/{project}/site/", "/api/v1/old/site/"),
    ] {
        let reply = kit.call(&service, "GET", path, tester, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        let schema = schema_check::ok_schema(document, template, "get");
        if let Err(error) = schema_check::check(document, schema, &reply.json) {
            panic!(
                "{path} breaks the previous version's document: {error}\n{}",
                reply.json
            );
        }
    }
    let unserved = kit
        .call(
            &service,
            "GET",
            "/api/v1/schema/?version=1999.1",
            None,
            None,
        )
        .await;
    assert_eq!(unserved.status, 400);
    let detail = unserved.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(NEWEST) && detail.contains(PREVIOUS),
        "{detail}"
    );
    // The docs page offers both documents.
    let page = kit
        .call(
            &service,
            "GET",
            "/api/v1/docs/swagger-initializer.js",
            None,
            None,
        )
        .await;
    let script = String::from_utf8_lossy(&page.body);
    assert!(
        script.contains(&format!("/api/v1/schema/?version={PREVIOUS}")),
        "{script}"
    );
}

on_both_backends!(
    a_project_migrated_under_continuous_reads_switches_without_a_failed_read,
    migrated_under_continuous_reads
);

async fn migrated_under_continuous_reads(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    // The server's periodic version check, as `serve` runs it.
    tenantapi_server::serve::spawn_version_checks(kit.registry(), Duration::from_secs(1));
    let database = kit.database("old");
    let migration = database.migration_sql(&migration_to_newest(backend), NEWEST);
    let mut connection = database.connect();
    let migrated_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let migrating = {
        let migrated_at = migrated_at.clone();
        std::thread::spawn(move || {
            use diesel::connection::SimpleConnection as _;
            std::thread::sleep(Duration::from_millis(300));
            connection.batch_execute(&migration).expect("the migration");
            *migrated_at.lock().unwrap() = Some(Instant::now());
        })
    };
    let started = Instant::now();
    let mut reads = 0;
    let mut switched_after = None;
    while started.elapsed() < Duration::from_secs(10) {
        for path in ["/api/v1/old/data_point/", "/api/v1/old/data_point/1/"] {
            let reply = kit.call(&service, "GET", path, Some("tester"), None).await;
            reads += 1;
            assert_eq!(reply.status, 200, "read {reads} of {path}: {}", reply.json);
            let row = if reply.json["results"].is_array() {
                reply.json["results"][0].clone()
            } else {
                reply.json.clone()
            };
            match served_at(&reply) {
                Some(PREVIOUS) => assert_eq!(row["unit_name"], "kWh", "{row}"),
                Some(NEWEST) => {
                    assert_eq!(row["unit"], "kWh", "{row}");
                    let migrated = migrated_at.lock().unwrap().unwrap_or_else(Instant::now);
                    switched_after.get_or_insert(migrated.elapsed());
                }
                other => panic!("answered at {other:?}"),
            }
        }
        if switched_after.is_some() && reads > 50 {
            break;
        }
    }
    migrating.join().unwrap();
    let switched_after = switched_after.expect("the project was served at the new version");
    assert!(
        switched_after < Duration::from_secs(2),
        "served at the new version {switched_after:?} after the migration (version_check_seconds = 1)"
    );
    // The new table is there too, and the project root lists it.
    let root = kit
        .call(&service, "GET", "/api/v1/old/", Some("tester"), None)
        .await;
    assert!(root.json["maintenance-window"].is_string(), "{}", root.json);
}

on_both_backends!(
    a_write_that_meets_the_switch_is_refused_and_its_retry_served,
    write_meeting_the_switch
);

async fn write_meeting_the_switch(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    let tester = Some("tester");
    let before = kit
        .call(&service, "GET", "/api/v1/old/data_point/1/", tester, None)
        .await;
    assert_eq!(served_at(&before), Some(PREVIOUS));
    // The migration commits; the server has not looked since.
    kit.database("old")
        .migrate(&migration_to_newest(backend), NEWEST);
    let refused = kit
        .call(
            &service,
            "POST",
            "/api/v1/old/data_point/",
            tester,
            Some(json!({"name": "written under the old version", "unit_name": "m3"})),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.json);
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(detail.contains(NEWEST), "{detail}");
    // Nothing was written under the wrong version.
    let rows = kit
        .call(&service, "GET", "/api/v1/old/data_point/", tester, None)
        .await;
    assert_eq!(served_at(&rows), Some(NEWEST));
    assert_eq!(rows.json["count"], 1, "{}", rows.json);
    // The retry is served at the new version: the old body is refused as a client's mistake,
    // the new one written.
    let old_shape = kit
        .call(
            &service,
            "POST",
            "/api/v1/old/data_point/",
            tester,
            Some(json!({"name": "gas", "unit_name": "m3"})),
        )
        .await;
    assert_eq!(old_shape.status, 400, "{}", old_shape.json);
    let retried = kit
        .call(
            &service,
            "POST",
            "/api/v1/old/data_point/",
            tester,
            Some(json!({"name": "gas", "unit": "m3"})),
        )
        .await;
    assert_eq!(retried.status, 201, "{}", retried.json);
    assert_eq!(served_at(&retried), Some(NEWEST));
    assert_eq!(retried.json["unit"], "m3");
}

on_both_backends!(
    a_project_at_a_version_no_longer_served_answers_503,
    version_not_served
);

async fn version_not_served(backend: Backend) {
    let kit = kit(backend);
    let service = kit.service().await;
    kit.database("old").migrate("", "2023.01.0");
    let registry = kit.registry();
    actix_web::web::block(move || registry.check_all_now())
        .await
        .unwrap();
    let reply = kit
        .call(
            &service,
            "GET",
            "/api/v1/old/data_point/",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(reply.status, 503, "{}", reply.json);
    assert!(served_at(&reply).is_none());
    let detail = reply.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("2023.01.0") && detail.contains(NEWEST) && detail.contains(PREVIOUS),
        "{detail}"
    );
    let other = kit
        .call(
            &service,
            "GET",
            "/api/v1/new/data_point/",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(other.status, 200, "the other project is served");
    let _: Value = other.json;
}

/// Regression: a migration that changed a column's type left every pooled PostgreSQL connection
/// that had prepared a read of the table failing with "cached plan must not change result
/// type" (500) until it was closed. The connection is now closed and the read retried.
#[actix_web::test]
async fn a_column_type_changed_under_prepared_statements_fails_no_read() {
    let kit = kit(Backend::Postgres);
    let service = kit.service().await;
    for _ in 0..3 {
        let reply = kit
            .call(
                &service,
                "GET",
                "/api/v1/new/data_point/1/",
                Some("tester"),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }
    kit.database("new")
        .execute("ALTER TABLE data_point ALTER COLUMN unit TYPE varchar(40);");
    for attempt in 0..3 {
        let reply = kit
            .call(
                &service,
                "GET",
                "/api/v1/new/data_point/1/",
                Some("tester"),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "read {attempt}: {}", reply.json);
        assert_eq!(reply.json["unit"], "kWh");
    }
    let written = kit
        .call(
            &service,
            "PATCH",
            "/api/v1/new/data_point/1/",
            Some("tester"),
            Some(json!({"unit": "MWh"})),
        )
        .await;
    assert!(
        written.status == 200 || written.status == 503,
        "a write is applied or refused to retry, never a 500: {} {}",
        written.status,
        written.json
    );
}
