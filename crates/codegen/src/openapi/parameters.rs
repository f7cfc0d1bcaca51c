//! Parameters: the shared ones (project, paging, counting, cursors, conditional headers) and
//! each table's own (key, ordering, filters with their lookups, `fields`/`omit`, `expand`,
//! `on_conflict`), typed as the runtime parses them.

use serde_json::{Value, json};
use tenantapi_schema::model::{Column, ColumnKind, Lookup, Schema, Table};

use super::relations::relations;
use super::value_schemas::{Direction, numeric_input_pattern, scalar_schema};
use tenantapi_schema::api_rules::{
    CountMode, DEFAULT_MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, EXACT_COUNT_BELOW, MAX_IN_ITEMS,
    MAX_PATTERN_CHARACTERS, MAX_REVERSE_ROWS,
};

/// `on_conflict` of a create, for a table with a unique key a client's row can meet: its
/// unique constraints, and its primary key unless the database generates it.
pub(super) fn conflict_parameter(table: &Table) -> Option<Value> {
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

/// `expand` of a read, for a table with relations: the keys it may replace by the rows they
/// reference and the lists of referencing rows it may add. The choices list every relation and
/// each one's own relations (`a.b`); the server also takes a third step (`a.b.c`).
pub(super) fn expand_parameter(schema: &Schema, table: &Table) -> Option<Value> {
    let own = relations(schema, table);
    if own.is_empty() {
        return None;
    }
    let mut choices = Vec::new();
    let mut meanings = Vec::new();
    for relation in &own {
        let target = &schema.tables[relation.rows_of].sql_name;
        meanings.push(if relation.reverse {
            format!(
                "`{}` (a list of the `{target}` rows that reference this one, at most {MAX_REVERSE_ROWS})",
                relation.name
            )
        } else {
            format!(
                "`{}` (`{}` becomes a `{target}` row)",
                relation.name, relation.field
            )
        });
        choices.push(relation.name.clone());
        for next in relations(schema, &schema.tables[relation.rows_of]) {
            choices.push(format!("{}.{}", relation.name, next.name));
        }
    }
    Some(json!({
        "name": "expand",
        "in": "query",
        "required": false,
        "description": format!("Comma-separated relations to expand: {}. A key field then holds the row it references (the `Shaped...` row schemas); a `_set` is added as a list. Dots expand the expanded rows' own relations (`a.b`, and `a.b.c`, at most 3 deep). One query per relation and level for the whole page; an unknown relation answers 400. A read produces at most `api.max_read_rows` rows (25,000 unless configured), its page's and every expanded row counted as often as the answer holds it; more answers 400 (ask for a smaller page_size, fewer relations or filters).", meanings.join(", ")),
        "style": "form",
        "explode": false,
        "schema": {"type": "array", "items": {"type": "string", "enum": choices}}
    }))
}

/// `fields` and `omit` of a read: which of the table's fields each returned row keeps. The
/// choices are the table's columns, its lists of referencing rows (fields once expanded) and
/// `relation.field` one level into an expansion (the server takes deeper paths too).
pub(super) fn selection_parameters(schema: &Schema, table: &Table) -> [Value; 2] {
    let own = relations(schema, table);
    let mut choices: Vec<String> = table
        .columns
        .iter()
        .map(|column| column.sql_name.clone())
        .collect();
    choices.extend(
        own.iter()
            .filter(|relation| relation.reverse)
            .map(|relation| relation.field.clone()),
    );
    for relation in &own {
        for column in &schema.tables[relation.rows_of].columns {
            choices.push(format!("{}.{}", relation.name, column.sql_name));
        }
    }
    let selection = |name: &str, description: String| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "style": "form",
            "explode": false,
            "schema": {"type": "array", "items": {"type": "string", "enum": choices}}
        })
    };
    [
        selection(
            "fields",
            "Comma-separated fields each returned row keeps (`relation.field` selects inside an expansion, see `expand`). The rows then carry only those fields: the answer is the `Shaped...` row schema, whose fields are all optional. An unknown name answers 400.".to_owned(),
        ),
        selection(
            "omit",
            "Comma-separated fields left out of each returned row (`relation.field` inside an expansion); the answer is the `Shaped...` row schema. An unknown name answers 400.".to_owned(),
        ),
    ]
}

pub(super) fn key_parameter(table: &Table) -> Value {
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

/// `search`, for a table with search fields (DRF's `SearchFilter`); the fields as the
/// description writes them, also as `x-search-fields`.
pub(super) fn search_parameter(schema: &Schema, table: &Table) -> Option<Value> {
    use tenantapi_schema::api_rules::{MAX_SEARCH_TERM_CHARACTERS, MAX_SEARCH_TERMS};
    if table.search.is_empty() {
        return None;
    }
    let fields: Vec<String> = table
        .search
        .iter()
        .map(|field| schema.search_field_text(table, field))
        .collect();
    Some(json!({
        "name": "search",
        "in": "query",
        "required": false,
        "description": format!(
            "Rows matching every term in some search field: {}. Terms are separated by spaces or commas (at most {MAX_SEARCH_TERMS}, each of at most {MAX_SEARCH_TERM_CHARACTERS} characters). A field without a prefix contains the term, `^` starts with it, `=` is it, `@` matches it as full text (PostgreSQL; contains on SQLite); case is ignored. `relation.field` is a field of the row a foreign key references.",
            fields.join(", ")
        ),
        "schema": {"type": "string", "maxLength": MAX_SEARCH_TERMS * (MAX_SEARCH_TERM_CHARACTERS + 1)},
        "x-search-fields": fields
    }))
}

pub(super) fn ordering_parameter(table: &Table) -> Value {
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

/// The bytes a read's query string may take, as the document bounds it: the HTTP layer answers
/// a URL over 65,534 bytes (`http::Uri`'s limit) with an empty 400 before the API sees it. The
/// rest is left to the path (`/api/v1/{project}/{table}/`) and the shared parameters (`page`,
/// `page_size`, `count`, and `cursor`: 1,000 characters at 12 bytes by [`largest_value_bytes`]).
pub(super) const QUERY_BYTES: u64 = 65_534 - 15_000;

/// The most bytes one character of a free-text value takes percent-encoded: four UTF-8 bytes,
/// each written `%XX`.
pub(super) const ENCODED_CHARACTER_BYTES: u64 = 12;

/// The most bytes a query value of `schema` takes percent-encoded, when something other than
/// free text bounds it: a list of choices (each at most once, comma-separated), a single
/// choice, a number or boolean, a format, a pattern (40 characters, or its `maxLength`; a
/// fuzzer may write its digits and spaces in any script). `None` for free text.
pub(super) fn largest_value_bytes(schema: &Value) -> Option<u64> {
    let encoded = |text: &Value| 3 * text.as_str().map_or(0, str::len) as u64;
    if let Some(choices) = schema["items"]["enum"].as_array() {
        return Some(choices.iter().map(|choice| encoded(choice) + 3).sum());
    }
    if let Some(choices) = schema["enum"].as_array() {
        return Some(choices.iter().map(encoded).max().unwrap_or_default());
    }
    if schema["type"] != "string" || schema.get("oneOf").is_some() {
        return Some(30);
    }
    if schema.get("pattern").is_some() {
        let characters = schema["maxLength"].as_u64().unwrap_or(40);
        return Some(ENCODED_CHARACTER_BYTES * characters);
    }
    if schema.get("format").is_some() {
        return Some(3 * 40);
    }
    None
}

/// Bounds the values of a read's query `parameters` so that the largest request the document
/// allows fits [`QUERY_BYTES`]: each list of choices (`fields`, `omit`, `expand`) holds every
/// choice at most once (`uniqueItems`, so `maxItems` is their number), and the free-text values
/// share what the names and the other values leave (`maxLength`, never above a parameter's
/// own, at least 1), unless the names and other values alone pass the limit.
pub(super) fn bound_query_text(parameters: &mut [Value]) {
    let mut taken = 0;
    let mut free_text = Vec::new();
    for (position, parameter) in parameters.iter_mut().enumerate() {
        if parameter["in"] != "query" {
            continue;
        }
        taken += parameter["name"].as_str().map_or(0, str::len) as u64 + 2;
        let value_schema = &mut parameter["schema"];
        if let Some(count) = value_schema["items"]["enum"].as_array().map(Vec::len) {
            value_schema["uniqueItems"] = Value::Bool(true);
            value_schema["maxItems"] = Value::from(count);
        }
        match largest_value_bytes(value_schema) {
            Some(bytes) => taken += bytes,
            None => free_text.push(position),
        }
    }
    if taken >= QUERY_BYTES {
        // A table so wide that its filters' names and bounded values alone pass the limit: no
        // share of free text would make every read fit, and a share of one character would
        // misstate what the server takes. Each value keeps its own bound.
        return;
    }
    let characters = QUERY_BYTES.saturating_sub(taken) / ENCODED_CHARACTER_BYTES;
    if let Some(share) = characters.checked_div(free_text.len() as u64) {
        let share = share.max(1);
        for position in free_text {
            let value_schema = &mut parameters[position]["schema"];
            let own = value_schema["maxLength"].as_u64().unwrap_or(u64::MAX);
            value_schema["maxLength"] = Value::from(own.min(share));
        }
    }
}

pub(super) fn filter_parameters(schema: &Schema, table: &Table) -> Vec<Value> {
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
pub(super) fn filter_parameter(
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
            format!("`{subject}` is one of these comma-separated values (at most {MAX_IN_ITEMS})"),
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

pub(super) fn lookup_meaning(lookup: Lookup) -> &'static str {
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
pub(super) fn query_value_with_choices(schema: &Schema, column: &Column) -> Value {
    match column.enum_type {
        Some(index) => json!({"type": "string", "enum": schema.enums[index].values}),
        None => query_value_schema(column),
    }
}

/// One value of `column`'s kind as text in a query string or path.
pub(super) fn query_value_schema(column: &Column) -> Value {
    match column.ty.kind() {
        ColumnKind::Numeric { precision, scale } => numeric_input_pattern(precision, scale),
        _ => scalar_schema(column, Direction::Query),
    }
}

pub(super) fn shared_parameters() -> Value {
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
            "description": format!("How numbered pages count the matching rows: `{}` (the default), `{}` (PostgreSQL's planner estimate when it is {} rows or more, else exact; exact on SQLite) or `{}` (`count` is null; cheapest on large tables). Not with `cursor`; `none` not with `page=last`.", CountMode::Exact.name(), CountMode::Estimated.name(), grouped(EXACT_COUNT_BELOW.unsigned_abs()), CountMode::None.name()),
            "schema": {"type": "string", "enum": CountMode::ALL.map(CountMode::name), "default": CountMode::DEFAULT.name()}
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": false,
            "description": "Pages by position instead of number: empty for the first page, then the cursor of a `next` or `previous` link (opaque and signed; any other answers 404 `Invalid cursor`). Every page costs what the first costs, and rows written meanwhile never shift a page. The ordering must be on fields that are never null (the primary key always is); the table needs a primary key. Not with `page` or `count`.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)?$", "maxLength": 1000}
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
            "description": format!("Rows per page (default {DEFAULT_PAGE_SIZE}); larger values are capped at the maximum."),
            "schema": {"type": "integer", "minimum": 1, "maximum": DEFAULT_MAX_PAGE_SIZE}
        }
    })
}

/// `n` with a comma between each group of three digits, as the document's prose writes numbers.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod grouped_tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(7), "7");
        assert_eq!(super::grouped(10_000), "10,000");
        assert_eq!(super::grouped(1_234_567), "1,234,567");
    }
}
