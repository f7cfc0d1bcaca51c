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

/// `GET /{project}/{table}/aggregate/`: counts, sums, averages and extremes per group, in
/// numbered pages of groups. Each parameter's fields are its `x-fields`; a filter whose name
/// is one of the aggregate parameters is written `field__exact` there.
pub(super) fn aggregate_path(schema: &Schema, table: &Table) -> Value {
    use tenantapi_schema::api_rules::{
        AGGREGATE_PARAMETERS, AVERAGE_DECIMAL_SCALE, Aggregate, MAX_AGGREGATES,
        MAX_GROUP_BY_FIELDS, is_groupable,
    };
    let names = |keep: &dyn Fn(&tenantapi_schema::model::Column) -> bool| -> Vec<String> {
        table
            .columns
            .iter()
            .filter(|column| keep(column))
            .map(|column| column.sql_name.clone())
            .collect()
    };
    let groupable = names(&|column| is_groupable(column.shape()));
    // Each field once, comma-separated: the longest value the server takes without repeats.
    let longest = |fields: &[String], prefix: &str| -> usize {
        fields
            .iter()
            .map(|name| prefix.len() + name.len() + 1)
            .sum::<usize>()
    };
    let list_parameter = |name: &str, description: String, fields: Vec<String>, extra: usize| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": {"type": "string", "maxLength": longest(&fields, "") + extra},
            "x-fields": fields
        })
    };
    let mut parameters = vec![
        reference("parameters", "Project"),
        reference("parameters", "Page"),
        reference("parameters", "PageSize"),
        list_parameter(
            "group_by",
            format!(
                "The fields whose values make a group, comma-separated (at most {MAX_GROUP_BY_FIELDS}): one object per group, holding them. Without it, one group of every matching row. Alone, it lists the groups."
            ),
            groupable.clone(),
            0,
        ),
    ];
    let countable = names(&|column| Aggregate::Count.applies_to(column.shape()));
    parameters.push(list_parameter(
        "count",
        "Counts, comma-separated: empty or `*` for the group's rows (result `count`), `field` for its non-null values (`field__count`), `distinct:field` for its distinct non-null values (`field__count_distinct`).".into(),
        countable,
        2 + longest(&groupable, "distinct:"),
    ));
    for (aggregate, meaning) in [
        (Aggregate::Sum, "Sums of these fields, comma-separated (results `field__sum`): exact; an integer field's sum is an integer, a decimal field's a string at the field's scale; null for a group without values.".to_string()),
        (Aggregate::Avg, format!("Averages of these fields, comma-separated (results `field__avg`): a number, or for a decimal field a string rounded half away from zero to {AVERAGE_DECIMAL_SCALE} fraction digits (more when the field's scale is larger); null for a group without values.")),
        (Aggregate::Min, "The least values of these fields, comma-separated (results `field__min`), shown as rows show them.".to_string()),
        (Aggregate::Max, "The greatest values of these fields, comma-separated (results `field__max`), shown as rows show them.".to_string()),
    ] {
        let fields = names(&|column| aggregate.applies_to(column.shape()));
        if !fields.is_empty() {
            parameters.push(list_parameter(aggregate.parameter(), meaning, fields, 0));
        }
    }
    parameters.push(json!({
        "name": "ordering",
        "in": "query",
        "required": false,
        "description": "The results to order groups by, by their names in the answer (`-value__sum`, `unit`), comma-separated, `-` first for descending; the group_by fields break ties. Nulls come last ascending and first descending, on both backends. Default: by the group_by fields.",
        "schema": {"type": "string", "maxLength": longest(&groupable, "-") + MAX_AGGREGATES * 80}
    }));
    parameters.extend(search_parameter(schema, table));
    parameters.push(reference("parameters", "IfNoneMatch"));
    for mut filter in filter_parameters(schema, table) {
        if let Some(name) = filter["name"].as_str()
            && AGGREGATE_PARAMETERS.contains(&name)
        {
            filter["name"] = Value::from(format!("{name}__exact"));
        }
        parameters.push(filter);
    }
    bound_query_text(&mut parameters);
    json!({
        "get": {
            "operationId": format!("{}_aggregate", table.rust_name),
            "summary": format!("Aggregate {} rows", table.verbose_name),
            "description": format!("Counts, sums, averages and extremes of the rows the filters (and `search`) match, per group of `group_by` values, in numbered pages of groups; at most {MAX_AGGREGATES} aggregates a request. Each group is an object of its `group_by` fields and its results, named as Django names aggregates (`value__sum`)."),
            "tags": [table.sql_name],
            "parameters": parameters,
            "responses": with_errors(
                vec![("200".into(), json!({
                    "description": "One page of groups.",
                    "headers": {"ETag": {"description": "A weak entity tag of the page (`W/\"...\"`), for `If-None-Match`.", "schema": {"type": "string"}}},
                    "content": json_content(json!({
                        "type": "object",
                        "required": ["count", "next", "previous", "results"],
                        "properties": {
                            "count": {"type": "integer", "minimum": 0, "description": "The number of groups."},
                            "next": {"type": ["string", "null"], "format": "uri"},
                            "previous": {"type": ["string", "null"], "format": "uri"},
                            "results": {"type": "array", "items": {
                                "type": "object",
                                "description": "A group: its group_by fields, then each result asked for.",
                                "additionalProperties": {"type": ["string", "number", "integer", "boolean", "null"]}
                            }}
                        }
                    }))
                }))],
                &[("304", "NotModified"), ("400", "BadRequest")]
            )
        }
    })
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
