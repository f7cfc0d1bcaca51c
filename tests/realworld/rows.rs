//! Every table serves the database's own rows, and fixtures carry the real-world types both
//! ways.

use super::*;

on_both_backends!(every_table_serves_the_databases_rows, rows_scenario);
async fn rows_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    if backend == Backend::Postgres {
        // Not populated yet: unavailable until the database refreshes it, never a 500.
        let unpopulated = call!(kit, service, "GET", "/api/v1/store/film_rate_total/");
        assert_eq!(unpopulated.status, 503, "{}", unpopulated.json);
        let detail = unpopulated.json["detail"].as_str().unwrap();
        assert!(
            detail.contains("materialized view \"film_rate_total\" has not been populated")
                && detail.contains("REFRESH MATERIALIZED VIEW"),
            "{detail}"
        );
        refresh(&database);
    }
    let index = call!(kit, service, "GET", "/api/v1/store/");
    assert_eq!(index.status, 200, "{}", index.json);
    assert_eq!(
        index.json.as_object().unwrap().len(),
        API.tables.len(),
        "{}",
        index.json
    );
    for meta in API.table_metas() {
        let segment = tenantapi_schema::names::url_segment(meta.name);
        let list = call!(
            kit,
            service,
            "GET",
            &format!("/api/v1/store/{segment}/?page_size=1000")
        );
        assert_eq!(list.status, 200, "{}: {}", meta.name, list.json);
        let api_rows = list.json["results"].as_array().unwrap();
        let expected = database_rows(&database, meta);
        assert!(!expected.is_empty(), "the sample has rows in {}", meta.name);
        assert_rows_equal(meta, api_rows, &expected);
        if meta.has_primary_key() {
            for row in api_rows {
                let key =
                    tenantapi_runtime::http::key_path::primary_key_segment(meta, row).unwrap();
                let detail = call!(
                    kit,
                    service,
                    "GET",
                    &format!("/api/v1/store/{segment}/{key}/")
                );
                assert_eq!(detail.status, 200, "{} {key}: {}", meta.name, detail.json);
                assert_eq!(&detail.json, row, "{} {key}", meta.name);
            }
        } else {
            // A keyless view has the list route only.
            let detail = call!(kit, service, "GET", &format!("/api/v1/store/{segment}/1/"));
            assert_eq!(detail.status, 404, "{}", meta.name);
        }
        if meta.read_only {
            let refused = call!(
                kit,
                service,
                "POST",
                &format!("/api/v1/store/{segment}/"),
                json!({})
            );
            assert_eq!(refused.status, 405, "{}: {}", meta.name, refused.json);
        }
    }
}

/// Fixtures (the test kit's and `tenantapi fixtures load/dump`) carry real-world types: lists,
/// enums, citext, char(n); a generated column is left to the database (refused in a fixture,
/// left out of a dump, so that a dump loads back).
#[test]
fn fixtures_load_and_dump_real_world_types() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let database = sample(backend);
        refresh(&database);
        let rows = json!({
            "language": [{"language_id": 7, "name": "German", "last_update": "2024-03-01T00:00:00"}],
            "customer": [{"customer_id": 9, "email": "Hans@Example.com", "first_name": "Hans",
                          "last_name": "Meier", "active": true, "favourite_films": [2, 1],
                          "country_code": "DE"}],
        });
        let loaded =
            tenantapi_testkit::load_fixture_text(&database, "rows.json", &rows.to_string())
                .unwrap();
        assert_eq!(loaded, 2, "{backend:?}");
        let dump = tenantapi_testkit::dump(&database);
        let hans = dump["customer"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["customer_id"] == 9)
            .unwrap();
        assert_eq!(hans["favourite_films"], json!([2, 1]), "{backend:?}");
        assert!(
            hans.get("full_name").is_none(),
            "a generated column is not dumped"
        );
        let german = dump["language"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["language_id"] == 7)
            .unwrap();
        assert!(german["name"].as_str().unwrap().starts_with("German"));

        let refused = json!({"customer": [{"customer_id": 10, "first_name": "A", "last_name": "B",
                                           "full_name": "A B"}]});
        let error =
            tenantapi_testkit::load_fixture_text(&database, "bad.json", &refused.to_string())
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("column full_name is computed by the database"),
            "{backend:?}: {error}"
        );
    }
}
