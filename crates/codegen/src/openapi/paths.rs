//! The document's paths: the project index, each table's collection (list, create) and item
//! (retrieve, update, partial update, destroy) operations, with their parameters and answers.

use serde_json::{Map, Value, json};
use tenantapi_schema::model::{Schema, Table};

use super::components::read_answer;
use super::parameters::{
    bound_query_text, conflict_parameter, expand_parameter, filter_parameters, key_parameter,
    ordering_parameter, search_parameter, selection_parameters,
};
use super::responses::{BODY_ERRORS, with_errors};
use super::{json_content, reference};
use tenantapi_schema::api_rules::DEFAULT_MAX_BULK_ITEMS;

pub(super) fn project_index_path() -> Value {
    json!({
        "get": {
            "operationId": "project_tables",
            "summary": "The project's tables",
            "description": "Every table of the project with the absolute URL of its list.",
            "parameters": [reference("parameters", "Project")],
            "responses": with_errors(
                vec![("200".into(), json!({
                    "description": "Table names and their URLs.",
                    "content": json_content(json!({
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "uri"}
                    }))
                }))],
                &[]
            )
        }
    })
}

pub(super) fn collection_path(schema: &Schema, table: &Table, name: &str) -> Value {
    let mut parameters = vec![
        reference("parameters", "Project"),
        reference("parameters", "Page"),
        reference("parameters", "PageSize"),
        reference("parameters", "Count"),
        reference("parameters", "Cursor"),
        ordering_parameter(table),
    ];
    parameters.extend(selection_parameters(schema, table));
    parameters.extend(expand_parameter(schema, table));
    parameters.extend(search_parameter(schema, table));
    parameters.push(json!({
        "name": "format",
        "in": "query",
        "required": false,
        "description": "`json` (the default): a page of rows. `csv` or `ndjson` (or `Accept: text/csv` / `application/x-ndjson`): an export of every matching row, unpaged (not with `page`, `page_size`, `cursor`, `count` or `expand`), streamed in keyset batches from one snapshot, as an attachment; its ordering must be on fields that are never null.",
        "schema": {"type": "string", "enum": ["json", "csv", "ndjson"]}
    }));
    parameters.push(reference("parameters", "IfNoneMatch"));
    parameters.extend(filter_parameters(schema, table));
    bound_query_text(&mut parameters);
    let mut path = Map::new();
    path.insert(
        "get".into(),
        json!({
            "operationId": format!("{}_list", table.rust_name),
            "summary": format!("List {} rows", table.verbose_name),
            "tags": [table.sql_name],
            "parameters": parameters,
            "responses": with_errors(
                vec![("200".into(), json!({
                    "description": "One page of rows; or, exported (`format=csv|ndjson`), every matching row.",
                    "headers": {"ETag": {"description": "A weak entity tag of the page (`W/\"...\"`), for `If-None-Match`; not on exports.", "schema": {"type": "string"}}},
                    "content": {
                        "application/json": {"schema": reference("schemas", &format!("Paginated{name}List"))},
                        "text/csv": {"schema": {"type": "string", "description": "RFC 4180: a header row of the exported fields, then one record a row (null as an empty field, lists and objects as JSON)."}},
                        "application/x-ndjson": {"schema": {"type": "string", "description": "One JSON object a line, as the list's rows."}}
                    }
                }))],
                &[("304", "NotModified"), ("400", "BadRequest")]
            )
        }),
    );
    if !table.read_only {
        let mut post_parameters = vec![reference("parameters", "Project")];
        post_parameters.extend(conflict_parameter(table));
        let mut success = vec![("201".into(), created_response(table, name))];
        if post_parameters.len() > 1 {
            success.push((
                "200".into(),
                json!({
                    "description": "With `on_conflict`: the row as it now is, inserted or updated (a list of them for a list body).",
                    "content": json_content(json!({"oneOf": [
                        reference("schemas", name),
                        {"type": "array", "items": reference("schemas", name)}
                    ]}))
                }),
            ));
        }
        path.insert(
            "post".into(),
            json!({
                "operationId": format!("{}_create", table.rust_name),
                "summary": format!("Create a {} row", table.verbose_name),
                "tags": [table.sql_name],
                "parameters": post_parameters,
                "description": "A JSON object creates one row. A JSON list creates every row in one transaction, or none: 201 with the rows in order, or 400 with one error object per item in order (`{}` for the items that were fine), as Django REST Framework's `many=True`.",
                "requestBody": {
                    "required": true,
                    "content": json_content(json!({"oneOf": [
                        reference("schemas", &format!("{name}Request")),
                        {
                            "type": "array",
                            "items": reference("schemas", &format!("{name}Request")),
                            "maxItems": DEFAULT_MAX_BULK_ITEMS,
                            "description": "Bulk create (at most `api.max_bulk_items` rows)."
                        }
                    ]}))
                },
                "responses": with_errors(success, &BODY_ERRORS)
            }),
        );
    }
    Value::Object(path)
}

/// The 201 of a create, with links from the new row's key to its item operations (a single-
/// column key only: a composite key's path form is not one field of the body).
pub(super) fn created_response(table: &Table, name: &str) -> Value {
    let mut response = json!({
        "description": "The created row, as read back from the database (a list of them for a list body).",
        "headers": {
            "Location": {"description": "The new row's URL (not for a list body).", "schema": {"type": "string", "format": "uri"}},
            "ETag": reference("headers", "ETag")
        },
        "content": json_content(json!({"oneOf": [
            reference("schemas", name),
            {"type": "array", "items": reference("schemas", name)}
        ]}))
    });
    if let [key] = table.primary_key.as_slice() {
        let key = &table.columns[*key].sql_name;
        let mut links = Map::new();
        for operation in ["retrieve", "update", "partial_update", "destroy"] {
            links.insert(
                operation.to_owned(),
                json!({
                    "operationId": format!("{}_{operation}", table.rust_name),
                    "parameters": {
                        "project": "$request.path.project",
                        "pk": format!("$response.body#/{}", json_pointer_token(key))
                    }
                }),
            );
        }
        response["links"] = Value::Object(links);
    }
    response
}

/// A name as one JSON Pointer reference token (`~` and `/` escaped).
pub(super) fn json_pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

pub(super) fn item_path(schema: &Schema, table: &Table, name: &str) -> Value {
    let parameters = json!([reference("parameters", "Project"), key_parameter(table)]);
    let mut read_parameters = parameters.as_array().cloned().unwrap_or_default();
    read_parameters.extend(selection_parameters(schema, table));
    read_parameters.extend(expand_parameter(schema, table));
    read_parameters.push(reference("parameters", "IfNoneMatch"));
    bound_query_text(&mut read_parameters);
    let mut write_parameters = parameters.as_array().cloned().unwrap_or_default();
    write_parameters.push(reference("parameters", "IfMatch"));
    let row = |schema: Value| {
        json!({
            "description": "The row.",
            "headers": {"ETag": reference("headers", "ETag")},
            "content": json_content(schema)
        })
    };
    let mut path = Map::new();
    path.insert(
        "get".into(),
        json!({
            "operationId": format!("{}_retrieve", table.rust_name),
            "summary": format!("One {} row", table.verbose_name),
            "tags": [table.sql_name],
            "parameters": read_parameters,
            "responses": with_errors(
                vec![("200".into(), row(read_answer(name)))],
                &[("304", "NotModified"), ("400", "BadRequest")]
            )
        }),
    );
    if !table.read_only {
        for (method, operation, body, summary) in [
            (
                "put",
                "update",
                format!("{name}Request"),
                "Replace the writable fields of",
            ),
            (
                "patch",
                "partial_update",
                format!("Patched{name}Request"),
                "Change some fields of",
            ),
        ] {
            path.insert(
                method.into(),
                json!({
                    "operationId": format!("{}_{operation}", table.rust_name),
                    "summary": format!("{summary} a {} row", table.verbose_name),
                    "tags": [table.sql_name],
                    "parameters": write_parameters,
                    "requestBody": {"required": true, "content": json_content(reference("schemas", &body))},
                    "responses": with_errors(
                        vec![("200".into(), row(reference("schemas", name)))],
                        &[BODY_ERRORS.as_slice(), &[("412", "PreconditionFailed")]].concat()
                    )
                }),
            );
        }
        path.insert(
            "delete".into(),
            json!({
                "operationId": format!("{}_destroy", table.rust_name),
                "summary": format!("Delete a {} row", table.verbose_name),
                "tags": [table.sql_name],
                "parameters": write_parameters,
                "responses": with_errors(
                    vec![("204".into(), json!({"description": "Deleted."}))],
                    &[("400", "BadRequest"), ("403", "Forbidden"), ("412", "PreconditionFailed")]
                )
            }),
        );
    }
    Value::Object(path)
}
