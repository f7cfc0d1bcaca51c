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

fn mismatch_detail(found: &str) -> Value {
    json!({"detail": format!(
        "The project database has structure version \"{found}\"; this server serves version \"{}\". It is unavailable until they match.",
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
    assert_eq!(
        setup
            .kit
            .call(&app, "GET", "/api/v1/alpha/tag/", Some("writer"), None)
            .await
            .status,
        200,
        "matching version"
    );
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
            json!({"status": "version mismatch", "expected": tenantapi_generated::SCHEMA_VERSION, "found": other})
        );
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
    let rows: Vec<String> = {
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
    };
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
