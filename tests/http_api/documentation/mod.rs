//! The API's own documentation: the OpenAPI document at `/api/v1/schema/`, DRF's `OPTIONS`
//! metadata on every route, and the Swagger UI page.

mod largest_read;

use super::*;
use tenantapi_testkit::Role;

/// A kit with a writer and a reader of `alpha`, besides the superuser.
pub(super) fn kit_with_roles(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestKit {
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
    for table in tenantapi_generated::API.table_metas() {
        let path = format!("/{{project}}/{}/", table.name);
        assert!(document["paths"][&path]["get"].is_object(), "{path}");
        assert_eq!(
            document["paths"][&path]["post"].is_object(),
            !table.read_only,
            "{path}"
        );
    }
    // JSON forms: base64 bytes name both spellings; a time without an offset is a pattern,
    // not JSON Schema's `time` format (which requires one).
    let schemas = &document["components"]["schemas"];
    let raw = &schemas["Reading"]["properties"]["raw"];
    assert_eq!(
        (&raw["format"], &raw["contentEncoding"]),
        (&json!("byte"), &json!("base64")),
        "{raw}"
    );
    let daily_start = &schemas["MaintenanceWindow"]["properties"]["daily_start"];
    assert!(
        daily_start["pattern"].is_string() && daily_start.get("format").is_none(),
        "{daily_start}"
    );
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
    for (accept, content_type) in [
        ("application/yaml", "application/yaml"),
        ("application/x-yaml, text/yaml;q=0.9", "application/yaml"),
        (
            "application/json, application/yaml;q=0.5",
            "application/json",
        ),
        ("*/*", "application/json"),
    ] {
        let asked = tenantapi_testkit::send(
            &service,
            request("GET", "/api/v1/schema/", None, None).insert_header((header::ACCEPT, accept)),
        )
        .await;
        assert_eq!(asked.status, 200, "{accept}");
        assert_eq!(
            asked.headers.get(header::CONTENT_TYPE).unwrap(),
            content_type,
            "Accept: {accept}"
        );
        assert_eq!(asked.body, reply.body, "the same text either way");
    }
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

on_both_backends!(shaped_reads_match_the_document, shaped_reads_scenario);
/// Every choice the document offers for `fields`, `omit` and `expand` answers 200 with rows
/// its read schema admits (a key holding a row, an added `_set`, fields left out), and a plain
/// read still matches the whole-row schema.
async fn shaped_reads_scenario(backend: Backend) {
    let kit = kit_with_roles(backend, |_| {});
    let service = kit.service().await;
    let document = kit
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await
        .json;
    let reading = kit
        .call(
            &service,
            "POST",
            "/api/v1/alpha/reading/",
            Some("writer"),
            Some(json!({"data_point_id": 1, "measured_at": "2024-01-01T00:00:00Z", "value": "1.5", "raw": "AAEC"})),
        )
        .await;
    assert_eq!(reading.status, 201, "{}", reading.json);
    let mut checked = 0;
    for table in ["data_point", "site", "reading", "data_point_tag"] {
        let list = format!("/{{project}}/{table}/");
        let item = format!("/{{project}}/{table}/{{pk}}/");
        let key = if table == "data_point_tag" {
            "1,1"
        } else {
            "1"
        };
        let parameters = document["paths"][&list]["get"]["parameters"]
            .as_array()
            .unwrap();
        let choices = |name: &str| -> Vec<String> {
            parameters
                .iter()
                .find(|parameter| parameter["name"] == name)
                .map(|parameter| {
                    assert_eq!(parameter["explode"], false, "{name}: comma-separated");
                    parameter["schema"]["items"]["enum"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|choice| choice.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (fields, expand) = (choices("fields"), choices("expand"));
        assert_eq!(fields, choices("omit"));
        assert!(!fields.is_empty(), "{table} offers fields");
        let mut queries: Vec<String> = vec![String::new()];
        queries.extend(fields.iter().map(|field| format!("fields={field}")));
        queries.extend(fields.iter().map(|field| format!("omit={field}")));
        queries.extend(expand.iter().map(|relation| format!("expand={relation}")));
        if !expand.is_empty() {
            let all = expand.join(",");
            queries.push(format!("expand={all}"));
            queries.push(format!("expand={all}&fields={}", fields.join(",")));
            queries.push(format!("expand={all}&omit={}", fields[0]));
        }
        for query in &queries {
            for (template, path) in [
                (&list, format!("/api/v1/alpha/{table}/?{query}")),
                (&item, format!("/api/v1/alpha/{table}/{key}/?{query}")),
            ] {
                let reply = kit.call(&service, "GET", &path, Some("writer"), None).await;
                assert_eq!(reply.status, 200, "{path}: {}", reply.json);
                let schema = schema_check::ok_schema(&document, template, "get");
                if let Err(error) = schema_check::check(&document, schema, &reply.json) {
                    panic!("{path} breaks the document: {error}\n{}", reply.json);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} answers checked");

    // The whole-row schema is the plain read's, exactly: what `fields` and `expand` change
    // would break it.
    let whole = json!({"$ref": "#/components/schemas/DataPoint"});
    let plain = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/1/",
            Some("writer"),
            None,
        )
        .await;
    schema_check::check(&document, &whole, &plain.json).unwrap();
    for query in [
        "fields=id,name",
        "expand=site",
        "expand=reading_set",
        "omit=unit",
    ] {
        let path = format!("/api/v1/alpha/data_point/1/?{query}");
        let shaped = kit.call(&service, "GET", &path, Some("writer"), None).await;
        assert!(
            schema_check::check(&document, &whole, &shaped.json).is_err(),
            "{path}: {}",
            shaped.json
        );
    }
    let expanded = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/1/?expand=site,reading_set",
            Some("writer"),
            None,
        )
        .await;
    assert_eq!(expanded.json["site_id"]["code"], "A1");
    assert_eq!(expanded.json["reading_set"][0]["value"], "1.500000");
}

#[actix_web::test]
async fn errors_match_the_document() {
    let kit = kit_with_roles(Backend::Sqlite, |_| {});
    let service = kit.service().await;
    let document = kit
        .call(&service, "GET", "/api/v1/schema/", None, None)
        .await
        .json;
    let check = |path: &str, method: &str, status: &str, reply: &Reply| {
        assert_eq!(reply.status.to_string(), status, "{}", reply.json);
        let response = schema_check::response(&document, path, method, status);
        let schema = &response["content"]["application/json"]["schema"];
        if let Err(error) = schema_check::check(&document, schema, &reply.json) {
            panic!(
                "{method} {path} {status} breaks the document: {error}\n{}",
                reply.json
            );
        }
        response
    };
    // A method the path does not list: every operation names the path's 405 and its `Allow`.
    let collection = "/{project}/data_point/";
    let wrong = kit
        .call(
            &service,
            "PUT",
            "/api/v1/alpha/data_point/",
            Some("writer"),
            None,
        )
        .await;
    let response = check(collection, "get", "405", &wrong);
    assert!(response["headers"]["Allow"].is_object());
    assert_eq!(
        wrong.headers.get(header::ALLOW).unwrap(),
        "GET, POST, HEAD, OPTIONS"
    );
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"]["405"].is_object(),
                "{method} {path} names 405"
            );
        }
    }
    // An error of the body as a whole, under `non_field_errors`, which the document names.
    let not_an_object = kit
        .call(
            &service,
            "POST",
            "/api/v1/alpha/data_point/",
            Some("writer"),
            Some(json!("x")),
        )
        .await;
    check(collection, "post", "400", &not_an_object);
    assert!(not_an_object.json["non_field_errors"].is_array());
    assert!(
        document["components"]["schemas"]["FieldErrors"]["properties"]["non_field_errors"]
            .is_object()
    );
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
    // The docs page follows the same setting.
    for page in ["/api/v1/docs/", "/api/v1/docs/swagger-initializer.js"] {
        let anonymous = kit.call(&service, "GET", page, None, None).await;
        assert_eq!(anonymous.status, 401, "{page}: {}", anonymous.json);
        let reader = kit.call(&service, "GET", page, Some("reader"), None).await;
        assert_eq!(reader.status, 200, "{page}");
    }

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

/// Issue 24: the docs page told Swagger UI to keep the token entered in "Authorize" in the
/// browser's localStorage (`persistAuthorization`), where any script of the origin reads it and
/// where it outlives the tab. It is a setting now, off unless `api.docs_persist_authorization`.
#[actix_web::test]
async fn the_docs_page_keeps_the_token_in_the_browser_only_when_configured() {
    for (persist, expected) in [
        (None, "\"persistAuthorization\": false"),
        (Some(false), "\"persistAuthorization\": false"),
        (Some(true), "\"persistAuthorization\": true"),
    ] {
        let kit = kit_with_roles(Backend::Sqlite, |config| {
            if let Some(persist) = persist {
                config.api.docs_persist_authorization = persist;
            }
        });
        let service = kit.service().await;
        let initializer = kit
            .call(
                &service,
                "GET",
                "/api/v1/docs/swagger-initializer.js",
                None,
                None,
            )
            .await;
        assert_eq!(initializer.status, 200);
        let script = String::from_utf8(initializer.body.clone()).unwrap();
        assert!(script.contains(expected), "{persist:?}: {script}");
    }
}
