//! The OpenAPI 3.1 document of the generated API, rendered from the description at generation
//! time: every route the generated `configure` registers, with the filters, ordering, bodies,
//! JSON forms and errors the runtime actually serves.
//!
//! What depends on the server's configuration (the largest page size, whether credentials are
//! required) is written with its default here and adjusted once when the server starts.

mod components;
mod parameters;
mod paths;
mod relations;
mod responses;
mod value_schemas;

use serde_json::{Map, Value, json};
use tenantapi_schema::model::Schema;

use components::{shared_schemas, table_schemas};
use parameters::shared_parameters;
use paths::{aggregate_path, collection_path, item_path, project_index_path};
use responses::shared_responses;

/// Every success of a project route names the structure version it was produced at
/// (`X-Structure-Version`): declared on each operation's inline 2xx answers.
fn name_the_structure_version(paths: &mut Map<String, Value>) {
    let header = json!({"$ref": "#/components/headers/X-Structure-Version"});
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            if !status.starts_with('2') || response.get("$ref").is_some() {
                continue;
            }
            if !response["headers"].is_object() {
                response["headers"] = json!({});
            }
            response["headers"]["X-Structure-Version"] = header.clone();
        }
    }
}

/// The document as pretty-printed JSON, first key naming its generator (so that the file is
/// recognized as generated, like the Rust files' headers).
pub fn render_openapi(schema: &Schema, generated_header: &str) -> String {
    let names = ComponentNames::new(schema);
    let mut paths = Map::new();
    paths.insert("/{project}/".into(), project_index_path());
    let mut components = Map::new();
    for (index, table) in schema.tables.iter().enumerate() {
        let name = &names.0[index];
        let segment = tenantapi_schema::names::url_segment(&table.sql_name);
        let collection = format!("/{{project}}/{segment}/");
        paths.insert(collection, collection_path(schema, table, name));
        paths.insert(
            format!("/{{project}}/{segment}/aggregate/"),
            aggregate_path(schema, table),
        );
        if !table.primary_key.is_empty() {
            let item = format!("/{{project}}/{segment}/{{pk}}/");
            paths.insert(item, item_path(schema, table, name));
        }
        components.extend(table_schemas(schema, table, &names.0, index));
    }
    name_the_structure_version(&mut paths);
    let mut schemas = shared_schemas();
    schemas.extend(components);
    let tags: Vec<Value> = schema
        .tables
        .iter()
        .map(|table| {
            let mut tag = json!({"name": table.sql_name});
            if let Some(doc) = &table.doc {
                tag["description"] = Value::from(doc.as_str());
            }
            tag
        })
        .collect();
    let document = json!({
        "x-generated": generated_header,
        "openapi": "3.1.0",
        "info": {
            "title": "Project database API",
            "version": schema.version,
            "description": "One API for every project database of one structure (version ".to_owned()
                + &schema.version
                + "). The project is the first path segment: `/api/v1/{project}/...`; every \
                   project has the tables below. Lists are paged (`count`, `next`, `previous`, \
                   `results`) by number (`?page=`, with `?count=exact|estimated|none`) or, on \
                   large tables, by cursor (`?cursor=`: every page costs the same), filtered with `?field=value` and `?field__lookup=value`, and ordered \
                   with `?ordering=field,-other`. Errors follow Django REST Framework: \
                   `{\"field\": [\"message\"]}` for invalid input, `{\"detail\": \"message\"}` \
                   otherwise."
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"tokenAuth": []}, {"bearerAuth": []}, {"basicAuth": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": shared_parameters(),
            "responses": shared_responses(),
            "headers": {
                "ETag": {
                    "description": "The row's strong entity tag, for `If-None-Match` on reads and `If-Match` on writes.",
                    "schema": {"type": "string"}
                },
                "X-Structure-Version": {
                    "description": "The structure version the answer was produced at: the one the project's database records, which this document describes (a server serving several versions serves each one's document at `/api/v1/schema/?version=V`).",
                    "schema": {"type": "string", "const": schema.version}
                }
            },
            "securitySchemes": {
                "tokenAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "An API token with the prefix `Token`: `Authorization: Token <token>`."
                },
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The same API token as a bearer token."},
                "basicAuth": {"type": "http", "scheme": "basic", "description": "A user's name and password."}
            }
        }
    });
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The component name of each table's schemas: its struct name, numbered when two tables
/// derive the same one (`twin`, `twin-`).
struct ComponentNames(Vec<String>);

impl ComponentNames {
    fn new(schema: &Schema) -> ComponentNames {
        let mut names: Vec<String> = Vec::with_capacity(schema.tables.len());
        for table in &schema.tables {
            let base = table.struct_name.clone();
            let mut name = base.clone();
            let mut number = 2;
            while names.contains(&name) {
                name = format!("{base}{number}");
                number += 1;
            }
            names.push(name);
        }
        ComponentNames(names)
    }
}

fn reference(kind: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{kind}/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

#[cfg(test)]
mod tests {
    use super::parameters::{ENCODED_CHARACTER_BYTES, largest_value_bytes};
    use super::*;

    /// The most bytes a read's query string may take as the document allows it: each value at
    /// its largest, percent-encoded, with its name, `&` and `=`; shared parameters included.
    fn largest_query(document: &Value, parameters: &[Value]) -> u64 {
        let mut bytes: u64 = 0;
        for parameter in parameters {
            let parameter = match parameter["$ref"].as_str() {
                Some(reference) => document.pointer(&reference[1..]).unwrap(),
                None => parameter,
            };
            if parameter["in"] != "query" {
                continue;
            }
            bytes = bytes.saturating_add(parameter["name"].as_str().unwrap().len() as u64 + 2);
            let schema = &parameter["schema"];
            if let Some(choices) = schema["items"]["enum"].as_array() {
                assert_eq!(schema["uniqueItems"], true, "{parameter}");
                assert_eq!(schema["maxItems"], choices.len(), "{parameter}");
            }
            // Free text without a bound makes the query unbounded: such a read is too wide.
            bytes = bytes.saturating_add(largest_value_bytes(schema).unwrap_or_else(|| {
                schema["maxLength"]
                    .as_u64()
                    .map_or(u64::MAX, |length| ENCODED_CHARACTER_BYTES * length)
            }));
        }
        bytes
    }

    /// Checks every read whose parameter names and bounded values leave room for free text
    /// and returns their number, and the paths of the others: a table so wide (the real-world
    /// sample's 118 columns) that its filters' names alone pass the limit, where no bound on
    /// values can help and the free-text values keep their own bounds.
    fn check_reads(document: &Value) -> (usize, Vec<String>) {
        let mut checked = 0;
        let mut too_wide = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            let Some(parameters) = item["get"]["parameters"].as_array() else {
                continue;
            };
            let path_bytes = "/api/v1/".len() + 63 + path.len();
            let query = largest_query(document, parameters);
            if (path_bytes as u64 + 1).saturating_add(query) > 65_534 {
                for parameter in parameters {
                    let schema = &parameter["schema"];
                    if schema["type"] == "string" && largest_value_bytes(schema).is_none() {
                        assert!(
                            schema["maxLength"].as_u64().is_none_or(|length| length > 1),
                            "{path}: {parameter}"
                        );
                    }
                }
                too_wide.push(path.clone());
            } else {
                checked += 1;
            }
        }
        (checked, too_wide)
    }

    #[test]
    fn the_largest_read_the_document_allows_fits_a_url() {
        let manifest = env!("CARGO_MANIFEST_DIR");
        for (description, too_wide) in [
            ("../../schema/project.toml", &[][..]),
            (
                "../../tests/realworld/schema.toml",
                &[
                    "/{project}/Survey%20Answer/",
                    "/{project}/Survey%20Answer/aggregate/",
                ][..],
            ),
        ] {
            let schema =
                tenantapi_schema::load_file(&std::path::Path::new(manifest).join(description))
                    .unwrap();
            let document: Value = serde_json::from_str(&render_openapi(&schema, "")).unwrap();
            let (checked, found_too_wide) = check_reads(&document);
            assert!(checked > 5, "{description}");
            assert_eq!(found_too_wide, too_wide, "{description}");
        }
        // A wide table with a wide neighbour: 15 text columns each, every lookup. (Past some
        // hundreds of parameters their names alone fill a URL: no bound on values helps then.)
        let mut source = String::from(
            "version = \"1\"\n[version_source]\ntable = \"schema_version\"\ncolumn = \"version\"\n\
             [[table]]\nname = \"schema_version\"\nread_only = true\n\
             [[table.column]]\nname = \"version\"\ntype = \"varchar(64)\"\nprimary_key = true\n",
        );
        for table in ["wide", "other"] {
            source.push_str(&format!(
                "[[table]]\nname = \"{table}\"\n[[table.column]]\nname = \"id\"\ntype = \"serial\"\nprimary_key = true\n"
            ));
            if table == "wide" {
                source.push_str("[[table.column]]\nname = \"other_id\"\ntype = \"integer\"\nreferences = \"other.id\"\n");
            }
            for column in 0..15 {
                source.push_str(&format!(
                    "[[table.column]]\nname = \"text_{column:02}_with_a_long_name\"\ntype = \"text\"\n"
                ));
            }
        }
        let schema = tenantapi_schema::parse_str("wide.toml", &source).unwrap();
        let document: Value = serde_json::from_str(&render_openapi(&schema, "")).unwrap();
        assert_eq!(
            check_reads(&document),
            (10, vec![]),
            "the index, three lists, three aggregates, three items"
        );
    }
}
