//! The two-tenant test shown in TESTING.md, verbatim: keep them in step.

use serde_json::json;
use tenantapi_testkit::{Backend, Role, TestKit};

#[actix_web::test]
async fn each_tenant_sees_only_its_own_rows() {
    let rows = |name: &str| json!({"data_point": [{"id": 1, "name": name}]});
    let kit = TestKit::builder(Backend::Postgres)
        .project_with_rows("acme", rows("acme meter"))
        .project_with_rows("globex", rows("globex meter"))
        .user("ann", &[("acme", Role::Write)])
        .build()
        .unwrap();
    let app = kit.service().await;
    let get = |path: &'static str| kit.call(&app, "GET", path, Some("ann"), None);
    let acme = get("/api/v1/acme/data_point/1/").await;
    assert_eq!(acme.json["name"], "acme meter");
    let globex = get("/api/v1/globex/data_point/1/").await;
    assert_eq!(globex.status, 404, "ann has no grant on globex");
}

#[test]
fn testing_md_shows_this_test_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guide = std::fs::read_to_string(root.join("TESTING.md")).unwrap();
    let shown = guide
        .split("```rust\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let this_file = std::fs::read_to_string(
        file!()
            .strip_prefix("crates/testkit/")
            .map_or(root.join(file!()), |path| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
            }),
    )
    .unwrap();
    let test = this_file
        .split("\n\n#[test]\nfn testing_md")
        .next()
        .unwrap();
    let test = test.split_once("\n\n").unwrap().1;
    assert_eq!(
        shown.trim_end(),
        test.trim_end(),
        "TESTING.md and two_tenants.rs differ"
    );
    assert!(
        shown.lines().count() < 20,
        "the example must stay under 20 lines"
    );
}
