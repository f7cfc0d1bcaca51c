//! The OpenAPI 3.1 document of the generated API, rendered from the description at generation
//! time: every route the generated `configure` registers, with the filters, ordering, bodies,
//! JSON forms and errors the runtime actually serves.
//!
//! What depends on the server's configuration (the largest page size, whether credentials are
//! required) is written with its default here and adjusted once when the server starts.

use serde_json::{Map, Value, json};
use tenantapi_schema::model::{
    Column, ColumnKind, ColumnType, DefaultValue, Lookup, Schema, Table,
};

/// The largest `page_size` of the default configuration (the server writes its own).
const DEFAULT_MAX_PAGE_SIZE: u64 = 1000;
/// `api.max_bulk_items`' default; the server writes its configured value into the document.
const DEFAULT_MAX_BULK_ITEMS: u64 = 1000;
/// Longest value of a text lookup (runtime `list::MAX_PATTERN_CHARACTERS`).
const MAX_PATTERN_CHARACTERS: u64 = 12_000;

/// The document as pretty-printed JSON, first key naming its generator (so that the file is
/// recognized as generated, like the Rust files' headers).
pub fn render_openapi(schema: &Schema, generated_header: &str) -> String {
    let names = ComponentNames::new(schema);
    let mut paths = Map::new();
    paths.insert("/{project}/".into(), project_index_path());
    let mut components = Map::new();
    for (index, table) in schema.tables.iter().enumerate() {
        let name = &names.0[index];
        let collection = format!("/{{project}}/{}/", table.sql_name);
        paths.insert(collection, collection_path(schema, table, name));
        if !table.primary_key.is_empty() {
            let item = format!("/{{project}}/{}/{{pk}}/", table.sql_name);
            paths.insert(item, item_path(schema, table, name));
        }
        components.insert(name.clone(), read_schema(schema, table));
        if !table.read_only {
            components.insert(format!("{name}Request"), write_schema(schema, table, true));
            components.insert(
                format!("Patched{name}Request"),
                write_schema(schema, table, false),
            );
        }
        components.insert(
            format!("Paginated{name}List"),
            json!({
                "allOf": [
                    {"$ref": "#/components/schemas/Page"},
                    {
                        "type": "object",
                        "properties": {
                            "results": {
                                "type": "array",
                                "items": {"$ref": format!("#/components/schemas/{name}")},
                                "description": "The rows of this page."
                            }
                        },
                        "required": ["results"]
                    }
                ]
            }),
        );
    }
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

fn responses(codes: &[(&str, &str)]) -> Map<String, Value> {
    codes
        .iter()
        .map(|(code, name)| (code.to_string(), reference("responses", name)))
        .collect()
}

/// The errors every project route can answer.
const COMMON_ERRORS: [(&str, &str); 4] = [
    ("401", "Unauthorized"),
    ("404", "NotFound"),
    ("429", "TooManyRequests"),
    ("503", "ServiceUnavailable"),
];

/// Errors of a write with a body.
const BODY_ERRORS: [(&str, &str); 4] = [
    ("400", "BadRequest"),
    ("403", "Forbidden"),
    ("413", "PayloadTooLarge"),
    ("415", "UnsupportedMediaType"),
];

fn with_errors(success: Vec<(String, Value)>, extra: &[(&str, &str)]) -> Value {
    let mut all: Map<String, Value> = success.into_iter().collect();
    all.extend(responses(extra));
    all.extend(responses(&COMMON_ERRORS));
    let mut sorted: Vec<(String, Value)> = all.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(sorted.into_iter().collect())
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn project_index_path() -> Value {
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

fn collection_path(schema: &Schema, table: &Table, name: &str) -> Value {
    let mut parameters = vec![
        reference("parameters", "Project"),
        reference("parameters", "Page"),
        reference("parameters", "PageSize"),
        reference("parameters", "Count"),
        reference("parameters", "Cursor"),
        ordering_parameter(table),
    ];
    parameters.extend(selection_parameters(table));
    parameters.extend(expand_parameter(schema, table));
    parameters.push(reference("parameters", "IfNoneMatch"));
    parameters.extend(filter_parameters(schema, table));
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
                    "description": "One page of rows.",
                    "headers": {"ETag": {"description": "A weak entity tag of the page (`W/\"...\"`), for `If-None-Match`.", "schema": {"type": "string"}}},
                    "content": json_content(reference("schemas", &format!("Paginated{name}List")))
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
fn created_response(table: &Table, name: &str) -> Value {
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
fn json_pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `on_conflict` of a create, for a table with a unique key a client's row can meet: its
/// unique constraints, and its primary key unless the database generates it.
fn conflict_parameter(table: &Table) -> Option<Value> {
    let names = |columns: &[usize]| {
        columns
            .iter()
            .map(|&index| table.columns[index].sql_name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut targets: Vec<String> = table.unique.iter().map(|set| names(set)).collect();
    if !table.primary_key.is_empty()
        && table
            .primary_key
            .iter()
            .all(|&index| !table.columns[index].is_generated())
    {
        targets.push(names(&table.primary_key));
    }
    if targets.is_empty() {
        return None;
    }
    Some(json!({
        "name": "on_conflict",
        "in": "query",
        "required": false,
        "description": "Upsert by this unique key (its columns, comma-separated): a row whose key equals the body's gets the body's other fields (never its primary key), else the body is inserted; 200 with the row as it now is. Every row of the body must give the key's fields.",
        "schema": {"type": "string", "enum": targets}
    }))
}

/// `expand` of a read, for a table with foreign keys: the relations it may replace by rows.
fn expand_parameter(schema: &Schema, table: &Table) -> Option<Value> {
    let mut relations: Vec<String> = table
        .foreign_keys
        .iter()
        .map(|foreign_key| {
            let relation =
                tenantapi_schema::names::relation_name(&table.columns[foreign_key.column].sql_name);
            let target = &schema.tables[foreign_key.references_table].sql_name;
            format!(
                "`{relation}` (`{}` becomes a `{target}` row)",
                table.columns[foreign_key.column].sql_name
            )
        })
        .collect();
    // Reverse relations, as the server finds them: tables that reference this one through
    // exactly one key and have a primary key.
    for child in &schema.tables {
        let references = child
            .foreign_keys
            .iter()
            .filter(|foreign_key| {
                schema.tables[foreign_key.references_table].sql_name == table.sql_name
            })
            .count();
        if references == 1 && !child.primary_key.is_empty() {
            relations.push(format!(
                "`{0}_set` (a list of the `{0}` rows that reference this one, at most 100)",
                child.sql_name
            ));
        }
    }
    if relations.is_empty() {
        return None;
    }
    Some(json!({
        "name": "expand",
        "in": "query",
        "required": false,
        "description": format!("Comma-separated relations to expand: {}. A key field then holds the row it references; a `_set` is added as a list. Dots expand the expanded rows' own relations (`a.b`, at most 3 deep). One query per relation and level for the whole page; an unknown relation answers 400.", relations.join(", ")),
        "schema": {"type": "string"}
    }))
}

/// `fields` and `omit` of a read: which of the table's fields each returned row keeps.
fn selection_parameters(table: &Table) -> [Value; 2] {
    let fields: Vec<&str> = table
        .columns
        .iter()
        .map(|column| column.sql_name.as_str())
        .collect();
    let fields = fields.join(", ");
    [
        json!({
            "name": "fields",
            "in": "query",
            "required": false,
            "description": format!("Comma-separated fields each returned row keeps, of: {fields}. `relation.field` selects inside an expansion (`expand`). The rows then carry only those fields (the row schema's other required fields are absent); an unknown name answers 400."),
            "schema": {"type": "string"}
        }),
        json!({
            "name": "omit",
            "in": "query",
            "required": false,
            "description": format!("Comma-separated fields left out of each returned row, of: {fields}; `relation.field` inside an expansion; an unknown name answers 400."),
            "schema": {"type": "string"}
        }),
    ]
}

fn item_path(schema: &Schema, table: &Table, name: &str) -> Value {
    let parameters = json!([reference("parameters", "Project"), key_parameter(table)]);
    let mut read_parameters = parameters.as_array().cloned().unwrap_or_default();
    read_parameters.extend(selection_parameters(table));
    read_parameters.extend(expand_parameter(schema, table));
    read_parameters.push(reference("parameters", "IfNoneMatch"));
    let mut write_parameters = parameters.as_array().cloned().unwrap_or_default();
    write_parameters.push(reference("parameters", "IfMatch"));
    let row = || {
        json!({
            "description": "The row.",
            "headers": {"ETag": reference("headers", "ETag")},
            "content": json_content(reference("schemas", name))
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
                vec![("200".into(), row())],
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
                        vec![("200".into(), row())],
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

fn key_parameter(table: &Table) -> Value {
    let columns: Vec<&Column> = table.primary_key_columns().collect();
    let (schema, description) = match columns.as_slice() {
        [column] => {
            let mut value = query_value_schema(column);
            if value["type"] == "string"
                && value.get("maxLength").is_none()
                && value.get("format").is_none()
                && value.get("pattern").is_none()
            {
                value["maxLength"] = Value::from(1000);
            }
            (value, format!("The row's `{}`.", column.sql_name))
        }
        several => (
            json!({"type": "string", "maxLength": 1000}),
            format!(
                "The row's key: {} in this order, separated by commas (`a,b`); a comma inside \
                 a value is written `%2C`.",
                several
                    .iter()
                    .map(|column| format!("`{}`", column.sql_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    json!({"name": "pk", "in": "path", "required": true, "description": description, "schema": schema})
}

fn ordering_parameter(table: &Table) -> Value {
    let mut fields = Vec::new();
    for column in table
        .columns
        .iter()
        .filter(|column| column.shape().is_orderable())
    {
        fields.push(Value::from(column.sql_name.clone()));
        fields.push(Value::from(format!("-{}", column.sql_name)));
    }
    json!({
        "name": "ordering",
        "in": "query",
        "required": false,
        "description": "The field to order by, `-` first for descending; several are separated by commas (`-a,b`). The primary key breaks ties.",
        "schema": {"type": "string", "enum": fields}
    })
}

/// The characters all free-text query parameters of one list may take together, as the
/// document states it: a URL over 64 KiB is refused by the HTTP layer before the API sees it
/// (`http::Uri`'s limit), and percent-encoding can triple a character.
const QUERY_TEXT_BUDGET: u64 = 20_000;

fn filter_parameters(schema: &Schema, table: &Table) -> Vec<Value> {
    let mut parameters = filter_parameters_unbounded(schema, table);
    let free_text = |parameter: &Value| {
        let value_schema = &parameter["schema"];
        value_schema["type"] == "string"
            && value_schema.get("enum").is_none()
            && value_schema.get("format").is_none()
            && value_schema.get("pattern").is_none()
    };
    let count = parameters
        .iter()
        .filter(|parameter| free_text(parameter))
        .count() as u64;
    if let Some(share) = QUERY_TEXT_BUDGET.checked_div(count) {
        let share = share.max(1);
        for parameter in parameters
            .iter_mut()
            .filter(|parameter| free_text(parameter))
        {
            let value_schema = &mut parameter["schema"];
            let own = value_schema["maxLength"].as_u64().unwrap_or(u64::MAX);
            value_schema["maxLength"] = Value::from(own.min(share));
        }
    }
    parameters
}

fn filter_parameters_unbounded(schema: &Schema, table: &Table) -> Vec<Value> {
    let mut parameters = Vec::new();
    let mut names = std::collections::HashSet::new();
    for column in &table.columns {
        for lookup in column.shape().lookups() {
            let name = lookup.parameter(&column.sql_name);
            names.insert(name.clone());
            parameters.push(filter_parameter(
                schema,
                column,
                lookup,
                name,
                &column.sql_name,
            ));
        }
    }
    // One level across each foreign key: `relation__field[__lookup]` on the referenced row.
    for foreign_key in &table.foreign_keys {
        let relation =
            tenantapi_schema::names::relation_name(&table.columns[foreign_key.column].sql_name);
        let target = &schema.tables[foreign_key.references_table];
        for column in &target.columns {
            for lookup in column.shape().lookups() {
                let name = match lookup {
                    Lookup::Exact => format!("{relation}__{}", column.sql_name),
                    _ => format!("{relation}__{}__{}", column.sql_name, lookup.name()),
                };
                // A column's own parameter wins where the names meet (as the server reads them).
                if !names.insert(name.clone()) {
                    continue;
                }
                let subject = format!(
                    "{}.{} (through {relation})",
                    target.sql_name, column.sql_name
                );
                parameters.push(filter_parameter(schema, column, lookup, name, &subject));
            }
        }
    }
    parameters
}

/// One filter parameter: `subject` (a column, or a referenced table's column) with `lookup`.
fn filter_parameter(
    schema: &Schema,
    column: &Column,
    lookup: Lookup,
    name: String,
    subject: &str,
) -> Value {
    let (value_schema, description) = match lookup {
        Lookup::Exact | Lookup::Gt | Lookup::Gte | Lookup::Lt | Lookup::Lte => (
            query_value_with_choices(schema, column),
            format!("`{subject}` {}", lookup_meaning(lookup)),
        ),
        Lookup::In => (
            json!({"type": "string"}),
            format!("`{subject}` is one of these comma-separated values (at most 1000)"),
        ),
        Lookup::IsNull => (
            json!({"type": "boolean"}),
            format!("`{subject}` is null (`true`) or is not (`false`)"),
        ),
        Lookup::Contains if column.array => (
            json!({"type": "string"}),
            format!("the list `{subject}` holds every one of these comma-separated items"),
        ),
        _ => (
            json!({"type": "string", "maxLength": MAX_PATTERN_CHARACTERS}),
            format!("`{subject}` {}", lookup_meaning(lookup)),
        ),
    };
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "schema": value_schema
    })
}

fn lookup_meaning(lookup: Lookup) -> &'static str {
    match lookup {
        Lookup::Exact => "equals the value",
        Lookup::Gt => "is greater than the value",
        Lookup::Gte => "is greater than or equal to the value",
        Lookup::Lt => "is less than the value",
        Lookup::Lte => "is less than or equal to the value",
        Lookup::Contains => "contains the text (case-sensitive)",
        Lookup::IContains => "contains the text, ignoring case",
        Lookup::StartsWith => "starts with the text (case-sensitive)",
        Lookup::IStartsWith => "starts with the text, ignoring case",
        Lookup::EndsWith => "ends with the text",
        Lookup::In | Lookup::IsNull => "",
    }
}

/// A query parameter's value for a column (an enum's values where it has them).
fn query_value_with_choices(schema: &Schema, column: &Column) -> Value {
    match column.enum_type {
        Some(index) => json!({"type": "string", "enum": schema.enums[index].values}),
        None => query_value_schema(column),
    }
}

/// One value of `column`'s kind as text in a query string or path.
fn query_value_schema(column: &Column) -> Value {
    match column.ty.kind() {
        ColumnKind::Numeric { precision, scale } => numeric_input_pattern(precision, scale),
        _ => scalar_schema(column, Direction::Query),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// A value the server answers with.
    Read,
    /// A value a client sends in a body.
    Write,
    /// A value in a query string or path.
    Query,
}

fn numeric_input_pattern(precision: u32, scale: u32) -> Value {
    let whole = precision - scale;
    json!({
        "type": "string",
        "pattern": format!(r"^\s*[-+]?\d{{0,{whole}}}(\.\d{{0,{scale}}})?\s*$"),
        "description": format!("A decimal number of at most {precision} digits, {scale} after the point.")
    })
}

/// The JSON Schema of one non-null value of `column`'s type (an item, for a list).
fn scalar_schema(column: &Column, direction: Direction) -> Value {
    let integer = |format: &str, min: i64, max: i64| json!({"type": "integer", "format": format, "minimum": min, "maximum": max});
    match column.ty {
        ColumnType::SmallInt => integer("int32", i16::MIN.into(), i16::MAX.into()),
        ColumnType::Integer | ColumnType::Serial => {
            integer("int32", i32::MIN.into(), i32::MAX.into())
        }
        ColumnType::BigInt | ColumnType::BigSerial => integer("int64", i64::MIN, i64::MAX),
        ColumnType::Boolean => json!({"type": "boolean"}),
        ColumnType::Real => json!({"type": "number", "format": "float"}),
        ColumnType::Double => json!({"type": "number", "format": "double"}),
        ColumnType::Numeric { precision, scale } => match direction {
            // Exactly `scale` decimals, as DRF's DecimalField renders.
            Direction::Read => json!({
                "type": "string",
                "pattern": if scale > 0 { format!(r"^-?\d+\.\d{{{scale}}}$") } else { r"^-?\d+$".to_owned() },
                "description": format!("A decimal number of at most {precision} digits, as a string with {scale} decimals.")
            }),
            Direction::Write | Direction::Query => {
                let mut accepted = numeric_input_pattern(precision, scale);
                accepted["type"] = json!(["string", "number"]);
                accepted
            }
        },
        ColumnType::Text | ColumnType::Citext => json!({"type": "string"}),
        ColumnType::Varchar { max_length: length } | ColumnType::Char { length } => {
            json!({"type": "string", "maxLength": length})
        }
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        // Without an offset, so not JSON Schema's `time` or `date-time` formats.
        ColumnType::Time => json!({
            "type": "string",
            "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
            "description": "hh:mm[:ss[.uuuuuu]]"
        }),
        ColumnType::Bytes => json!({
            "type": "string",
            "contentEncoding": "base64",
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
        }),
        ColumnType::Timestamp => match direction {
            Direction::Read => json!({
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
                "description": "A date and time without a time zone, YYYY-MM-DDThh:mm:ss[.uuuuuu]."
            }),
            Direction::Write | Direction::Query => json!({
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$",
                "description": "YYYY-MM-DDThh:mm[:ss[.uuuuuu]]; an offset is converted to UTC wall time."
            }),
        },
        ColumnType::Timestamptz => match direction {
            Direction::Read => {
                json!({"type": "string", "format": "date-time", "description": "RFC 3339, in UTC."})
            }
            Direction::Write | Direction::Query => json!({
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$",
                "description": "RFC 3339 (YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]); without an offset, UTC."
            }),
        },
        ColumnType::Uuid => json!({"type": "string", "format": "uuid"}),
        ColumnType::Json => json!({}),
        // The caller adds the values.
        ColumnType::Enum => json!({"type": "string"}),
    }
}

/// Adds `null` to a schema's accepted values.
fn or_null(mut schema: Value) -> Value {
    if schema.as_object().is_some_and(Map::is_empty) {
        return schema;
    }
    match schema.get("type").cloned() {
        Some(Value::String(single)) => schema["type"] = json!([single, "null"]),
        Some(Value::Array(mut several)) => {
            several.push(Value::from("null"));
            schema["type"] = Value::Array(several);
        }
        _ => {}
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.push(Value::Null);
    }
    schema
}

/// The JSON Schema of a column's value in a row (read) or a body (write).
fn column_schema(schema: &Schema, column: &Column, direction: Direction) -> Value {
    let mut item = scalar_schema(column, direction);
    if let Some(index) = column.enum_type {
        item["enum"] = json!(schema.enums[index].values);
    }
    let mut value = if column.database_type.is_some() {
        json!({
            "type": "string",
            "description": format!("The database's text form of its `{}` value.", column.database_type.as_deref().unwrap_or_default())
        })
    } else if column.array {
        // A list read from PostgreSQL may hold nulls written by other systems.
        let item = if direction == Direction::Read {
            or_null(item)
        } else {
            item
        };
        json!({"type": "array", "items": item})
    } else {
        item
    };
    if column.nullable {
        value = or_null(value);
    }
    let described = value.as_object_mut().expect("schemas are objects");
    let doc = column.doc.clone().or_else(|| {
        described
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    if let Some(doc) = doc {
        described.insert("description".into(), Value::from(doc));
    }
    if column.is_generated() || column.is_read_only() {
        described.insert("readOnly".into(), Value::Bool(true));
    }
    if let Some(default) = column
        .default
        .as_ref()
        .and_then(|default| default_json(column, default))
    {
        described.insert("default".into(), default);
    }
    value
}

/// A default as the JSON the server would return, if it is a constant.
fn default_json(column: &Column, default: &DefaultValue) -> Option<Value> {
    Some(match default {
        DefaultValue::Now => return None,
        DefaultValue::Boolean(flag) => Value::Bool(*flag),
        DefaultValue::Integer(integer) => Value::from(*integer),
        DefaultValue::Number(text) => match column.ty {
            ColumnType::Numeric { scale, .. } => Value::from(fixed_scale(text, scale)),
            _ => serde_json::from_str(text).ok()?,
        },
        DefaultValue::Text(text) => Value::from(text.as_str()),
        DefaultValue::EmptyList => json!([]),
    })
}

/// `text` (a plain decimal) with exactly `scale` decimals, as the server renders numerics.
fn fixed_scale(text: &str, scale: u32) -> String {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if scale == 0 {
        return whole.to_owned();
    }
    let mut fraction: String = fraction.chars().take(scale as usize).collect();
    while fraction.len() < scale as usize {
        fraction.push('0');
    }
    format!("{whole}.{fraction}")
}

/// A row as every read answers it: every column, always present.
fn read_schema(schema: &Schema, table: &Table) -> Value {
    let properties: Map<String, Value> = table
        .columns
        .iter()
        .map(|column| {
            (
                column.sql_name.clone(),
                column_schema(schema, column, Direction::Read),
            )
        })
        .collect();
    let required: Vec<&str> = table
        .columns
        .iter()
        .map(|column| column.sql_name.as_str())
        .collect();
    let mut value = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    });
    if let Some(doc) = &table.doc {
        value["description"] = Value::from(doc.as_str());
    }
    value
}

/// A create or replace body (`complete`: required columns required) or a partial update's.
/// Database-generated keys are left out (the server ignores them); read-only columns are left
/// out (the server refuses them); unknown fields are refused.
fn write_schema(schema: &Schema, table: &Table, complete: bool) -> Value {
    let writable: Vec<&Column> = table
        .columns
        .iter()
        .filter(|column| !column.is_generated() && !column.is_read_only())
        .collect();
    let properties: Map<String, Value> = writable
        .iter()
        .map(|column| {
            (
                column.sql_name.clone(),
                column_schema(schema, column, Direction::Write),
            )
        })
        .collect();
    let required: Vec<&str> = writable
        .iter()
        .filter(|column| complete && !column.is_optional_on_create())
        .map(|column| column.sql_name.as_str())
        .collect();
    let mut value = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    });
    if !required.is_empty() {
        value["required"] = json!(required);
    }
    value
}

fn shared_schemas() -> Map<String, Value> {
    let messages = json!({"type": "array", "items": {"type": "string"}});
    let mut schemas = Map::new();
    schemas.insert(
        "Detail".into(),
        json!({
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
            "additionalProperties": false,
            "description": "An error as a whole."
        }),
    );
    schemas.insert(
        "FieldErrors".into(),
        json!({
            "type": "object",
            "description": "Messages by field (`non_field_errors` for the body as a whole); a list field's item errors by the item's position.",
            "additionalProperties": {
                "anyOf": [messages, {"type": "object", "additionalProperties": messages}]
            }
        }),
    );
    schemas.insert(
        "Page".into(),
        json!({
            "type": "object",
            "description": "The envelope of every list page; each table's `Paginated...List` adds its `results`. Numbered pages carry `count`; cursor pages (`?cursor=`) do not, as in Django REST Framework's CursorPagination.",
            "properties": {
                "count": {"type": ["integer", "null"], "minimum": 0, "description": "Rows matching the filters, on every numbered page: exact by default, the database's estimate with `count=estimated` on large results, `null` with `count=none`. Absent on cursor pages."},
                "next": {"type": ["string", "null"], "format": "uri", "description": "The next page, if any."},
                "previous": {"type": ["string", "null"], "format": "uri", "description": "The previous page, if any."}
            },
            "required": ["next", "previous"]
        }),
    );
    schemas
}

fn shared_parameters() -> Value {
    json!({
        "Project": {
            "name": "project",
            "in": "path",
            "required": true,
            "description": "The project, as registered on the server; a project the caller may not use answers 404.",
            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"}
        },
        "Page": {
            "name": "page",
            "in": "query",
            "required": false,
            "description": "The page number, from 1, or `last`; a page out of range answers 404.",
            "schema": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]}
        },
        "Count": {
            "name": "count",
            "in": "query",
            "required": false,
            "description": "How numbered pages count the matching rows: `exact` (the default), `estimated` (PostgreSQL's planner estimate when it is 10,000 rows or more, else exact; exact on SQLite) or `none` (`count` is null; cheapest on large tables). Not with `cursor`; `none` not with `page=last`.",
            "schema": {"type": "string", "enum": ["exact", "estimated", "none"], "default": "exact"}
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": false,
            "description": "Pages by position instead of number: empty for the first page, then the cursor of a `next` or `previous` link (opaque and signed; any other answers 404 `Invalid cursor`). Every page costs what the first costs, and rows written meanwhile never shift a page. The ordering must be on fields that are never null (the primary key always is); the table needs a primary key. Not with `page` or `count`.",
            "schema": {"type": "string"}
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "Entity tags the client holds (from `ETag`), comma-separated, or `*`: when one matches the current representation (weak comparison), the answer is 304 without a body.",
            "schema": {"type": "string"}
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "Entity tags the write expects the row to have (from `ETag`), comma-separated, or `*`: unless the row's current strong ETag is one of them, the write is refused with 412 and nothing changes (checked inside the write's transaction).",
            "schema": {"type": "string"}
        },
        "PageSize": {
            "name": "page_size",
            "in": "query",
            "required": false,
            "description": "Rows per page (default 100); larger values are capped at the maximum.",
            "schema": {"type": "integer", "minimum": 1, "maximum": DEFAULT_MAX_PAGE_SIZE}
        }
    })
}

fn shared_responses() -> Value {
    let detail = |description: &str| {
        json!({
            "description": description,
            "content": json_content(reference("schemas", "Detail"))
        })
    };
    let retry_after = json!({
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
    });
    let mut too_many = detail("Too many requests of this kind at once.");
    too_many["headers"] = retry_after.clone();
    let mut unavailable = detail(
        "The project's database cannot serve now (unreachable, busy, or of another structure version).",
    );
    unavailable["headers"] = retry_after;
    let mut unauthorized = detail("Missing or invalid credentials.");
    unauthorized["headers"] = json!({
        "WWW-Authenticate": {"description": "How to authenticate.", "schema": {"type": "string"}}
    });
    json!({
        "BadRequest": {
            "description": "Invalid input: field errors, or a malformed request as a whole.",
            "content": json_content(json!({
                "anyOf": [
                    reference("schemas", "FieldErrors"),
                    reference("schemas", "Detail"),
                    {"type": "array", "items": reference("schemas", "FieldErrors"), "description": "A bulk create's errors, one object per item in order."}
                ]
            }))
        },
        "Unauthorized": unauthorized,
        "Forbidden": detail("The caller may read this project but not write it."),
        "NotFound": detail("No such project for this caller, no such row, or a page out of range."),
        "MethodNotAllowed": detail("The route does not answer this method; `Allow` lists those it does."),
        "PayloadTooLarge": detail("The body is larger than the server accepts."),
        "UnsupportedMediaType": detail("The body is not JSON."),
        "TooManyRequests": too_many,
        "NotModified": {
            "description": "The representation matches a tag of `If-None-Match`: the client's copy is current.",
            "headers": {"ETag": {"description": "The current entity tag.", "schema": {"type": "string"}}}
        },
        "PreconditionFailed": detail("The row changed since it was read: its ETag is not one `If-Match` names."),
        "ServiceUnavailable": unavailable
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_defaults_take_the_column_scale() {
        assert_eq!(fixed_scale("4.99", 2), "4.99");
        assert_eq!(fixed_scale("3", 2), "3.00");
        assert_eq!(fixed_scale("0.5", 0), "0");
        assert_eq!(fixed_scale("1.25", 4), "1.2500");
    }

    #[test]
    fn null_joins_types_and_enums() {
        assert_eq!(
            or_null(json!({"type": "string"})),
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            or_null(json!({"type": "string", "enum": ["a"]})),
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
        assert_eq!(or_null(json!({})), json!({}));
    }
}
