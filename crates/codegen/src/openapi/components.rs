//! Component schemas: each table's row (read) and bodies (create/replace, partial update), and
//! the shapes shared by every table (errors, the page envelope).

use serde_json::{Map, Value, json};
use tenantapi_schema::model::{Column, Schema, Table};

use super::values::{Direction, column_schema};

/// A row as every read answers it: every column, always present.
pub(super) fn read_schema(schema: &Schema, table: &Table) -> Value {
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
pub(super) fn write_schema(schema: &Schema, table: &Table, complete: bool) -> Value {
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

pub(super) fn shared_schemas() -> Map<String, Value> {
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
