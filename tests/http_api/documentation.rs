//! The API's own documentation: the OpenAPI document at `/api/v1/schema/`, DRF's `OPTIONS`
//! metadata on every route, and the Swagger UI page.

use super::*;
use tenantapi_testkit::Role;

/// A kit with a writer and a reader of `alpha`, besides the superuser.
fn kit_with_roles(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestKit {
    TestKit::builder(backend)
        .project(
            "alpha",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/alpha.json")),
        )
        .project("beta", None)
        .user("writer", &[("alpha", Role::Write)])
        .user("reader", &[("alpha", Role::Read)])
        .configure(|config| {
            config.api.max_page_size = 200;
            configure(config);
        })
        .build()
        .expect("test kit")
}

on_both_backends!(the_document_is_served_as_generated, document_scenario);
async fn document_scenario(backend: Backend) {
    let kit = kit_with_roles(backend, |_| {});
    let service = kit.service().await;
    let reply = kit
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await;
    assert_eq!(reply.status, 200, "public without credentials");
    assert_eq!(
        reply.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let document = &reply.json;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["info"]["version"],
        tenantapi_generated::SCHEMA_VERSION
    );
    assert_eq!(
        document["components"]["parameters"]["PageSize"]["schema"]["maximum"], 200,
        "the configured largest page"
    );
    let generated: Value = serde_json::from_str(tenantapi_generated::OPENAPI_JSON).unwrap();
    assert_eq!(
        document["paths"], generated["paths"],
        "the paths are the generated ones"
    );
    for table in tenantapi_generated::TABLES {
        let path = format!("/{{project}}/{}/", table.name);
        assert!(document["paths"][&path]["get"].is_object(), "{path}");
        assert_eq!(
            document["paths"][&path]["post"].is_object(),
            !table.read_only,
            "{path}"
        );
    }
    let text = String::from_utf8(reply.body.clone()).unwrap();
    assert!(
        !text.contains("alpha") && !text.contains("beta"),
        "no project is named"
    );
    let yaml = kit
        .call(&service, "GET", "/api/v1/schema/?format=yaml", None, None)
        .await;
    assert_eq!(
        yaml.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/yaml"
    );
    assert_eq!(yaml.body, reply.body, "JSON is YAML 1.2");
    let other = kit
        .call(&service, "GET", "/api/v1/schema/?format=xml", None, None)
        .await;
    assert_eq!(other.status, 404);

    // What the document promises about one operation, the server does.
    let ordering = document["paths"]["/{project}/data_point/"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "ordering")
        .unwrap()
        .clone();
    for field in ordering["schema"]["enum"].as_array().unwrap() {
        let path = format!(
            "/api/v1/alpha/data_point/?ordering={}",
            field.as_str().unwrap()
        );
        let reply = kit.call(&service, "GET", &path, Some("writer"), None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
    }
}

#[actix_web::test]
async fn the_document_may_require_credentials() {
    let kit = kit_with_roles(Backend::Sqlite, |config| config.api.public_schema = false);
    let service = kit.service().await;
    let anonymous = kit
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.json);
    let reader = kit
        .call(&service, "GET", "/api/v1/schema/", Some("reader"), None)
        .await;
    assert_eq!(reader.status, 200);
    assert!(reader.json["security"].is_array());

    let open = kit_with_roles(Backend::Sqlite, |config| config.auth.required = false);
    let service = open.service().await;
    let document = open
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await;
    assert!(
        document.json.get("security").is_none(),
        "no credentials are required with authentication off"
    );
}

on_both_backends!(options_follow_drf_metadata, options_scenario);
async fn options_scenario(backend: Backend) {
    let kit = kit_with_roles(backend, |_| {});
    let service = kit.service().await;
    let options = |path, user| kit.call(&service, "OPTIONS", path, user, None);
    let collection = "/api/v1/alpha/data_point/";
    let writer = options(collection, Some("writer")).await;
    assert_eq!(writer.status, 200, "{}", writer.json);
    assert_eq!(
        writer.headers.get(header::ALLOW).unwrap(),
        "GET, POST, HEAD, OPTIONS"
    );
    assert_eq!(writer.json["name"], "Data Point List");
    assert_eq!(
        writer.json["expandable"],
        json!(["site", "reading_set", "data_point_tag_set"]),
        "what ?expand= takes"
    );
    assert_eq!(writer.json["renders"], json!(["application/json"]));
    assert_eq!(writer.json["parses"], json!(["application/json"]));
    let fields = &writer.json["actions"]["POST"];
    assert_eq!(
        fields["id"],
        json!({"type": "integer", "required": false, "read_only": true, "label": "Id",
               "min_value": -2147483648_i64, "max_value": 2147483647})
    );
    assert_eq!(fields["name"]["required"], true);
    assert_eq!(fields["name"]["max_length"], 255);
    assert_eq!(
        fields["site_id"]["type"], "field",
        "a foreign key, as DRF's related field"
    );
    let reader = options(collection, Some("reader")).await;
    assert_eq!(reader.status, 200);
    assert!(
        reader.json.get("actions").is_none(),
        "a reader may not write"
    );
    let outsider = options("/api/v1/beta/data_point/", Some("reader")).await;
    assert_eq!(outsider.status, 404, "an ungranted project");
    let anonymous = options(collection, None).await;
    assert_eq!(anonymous.status, 401);

    let item = options("/api/v1/alpha/data_point/1/", Some("writer")).await;
    assert_eq!(item.status, 200, "{}", item.json);
    assert_eq!(item.json["name"], "Data Point Instance");
    assert_eq!(
        item.headers.get(header::ALLOW).unwrap(),
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    assert!(item.json["actions"]["PUT"]["name"].is_object());
    let missing = options("/api/v1/alpha/data_point/999/", Some("writer")).await;
    assert_eq!(missing.status, 200);
    assert!(
        missing.json.get("actions").is_none(),
        "DRF leaves PUT out for a missing row"
    );
    let tag = options("/api/v1/alpha/tag/", Some("writer")).await;
    assert_eq!(
        tag.json["actions"]["POST"]["kind"]["choices"],
        json!([{"value": "topic", "display_name": "topic"},
               {"value": "place", "display_name": "place"},
               {"value": "person", "display_name": "person"}])
    );
    let read_only = options("/api/v1/alpha/schema_version/", Some("writer")).await;
    assert_eq!(
        read_only.headers.get(header::ALLOW).unwrap(),
        "GET, HEAD, OPTIONS"
    );
    assert!(
        read_only.json.get("actions").is_none(),
        "a read-only table takes no POST"
    );

    for path in [
        "/api/v1/",
        "/api/v1/alpha/",
        "/api/v1/schema/",
        "/api/v1/docs/",
    ] {
        let reply = options(path, Some("writer")).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.headers.get(header::ALLOW).unwrap(),
            "GET, HEAD, OPTIONS"
        );
    }
}

#[actix_web::test]
async fn the_docs_page_is_served_from_the_binary() {
    let kit = kit_with_roles(Backend::Sqlite, |_| {});
    let service = kit.service().await;
    let page = kit.call(&service, "GET", "/api/v1/docs/", None, None).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = kit
        .call(
            &service,
            "GET",
            "/api/v1/docs/swagger-initializer.js",
            None,
            None,
        )
        .await;
    let script = String::from_utf8(initializer.body.clone()).unwrap();
    assert!(script.contains("\"url\": \"/api/v1/schema/\""), "{script}");
    let bundle = kit
        .call(
            &service,
            "GET",
            "/api/v1/docs/swagger-ui-bundle.js",
            None,
            None,
        )
        .await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000, "the vendored bundle");
    let missing = kit
        .call(&service, "GET", "/api/v1/docs/nothing.js", None, None)
        .await;
    assert_eq!(missing.status, 404);
    let redirect = kit.call(&service, "GET", "/api/v1/docs", None, None).await;
    assert_eq!(redirect.status, 301);
}

#[::core::prelude::v1::test]
fn schema_and_docs_are_not_project_names() {
    let platform = tenantapi_testkit::TestPlatform::new();
    for name in ["schema", "docs"] {
        let error = platform::add_project(&mut platform.connect(), name, "x.db").unwrap_err();
        assert!(error.to_string().contains("is reserved"), "{error}");
    }
}
