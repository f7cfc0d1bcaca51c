//! Component schemas: each table's row as served (whole, and as `fields`, `omit` and `expand`
//! shape it), its bodies (create/replace, partial update) and page, and the shapes shared by
//! every table (errors, the page envelope).

use serde_json::{Map, Value, json};
use tenantapi_schema::model::{Column, Schema, Table};

use super::reference;
use super::relations::relations;
use super::value_schemas::{Direction, column_schema};
use tenantapi_schema::api_rules::MAX_REVERSE_ROWS;

/// The component schemas of table `index`, named `names[index]`: its row (`Name`), the row as
/// a read with `fields`, `omit` or `expand` serves it (`ShapedName`), its bodies
/// (`NameRequest`, `PatchedNameRequest`) unless it is read-only, and its page.
pub(super) fn table_schemas(
    schema: &Schema,
    table: &Table,
    names: &[String],
    index: usize,
) -> Vec<(String, Value)> {
    let name = &names[index];
    let mut schemas = vec![
        (name.clone(), read_schema(schema, table)),
        (format!("Shaped{name}"), shaped_schema(schema, table, names)),
    ];
    if !table.read_only {
        schemas.push((format!("{name}Request"), write_schema(schema, table, true)));
        schemas.push((
            format!("Patched{name}Request"),
            write_schema(schema, table, false),
        ));
    }
    schemas.push((
        format!("Paginated{name}List"),
        json!({
            "allOf": [
                reference("schemas", "Page"),
                {
                    "type": "object",
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": read_answer(name),
                            "description": "The rows of this page."
                        }
                    },
                    "required": ["results"]
                }
            ]
        }),
    ));
    schemas
}

/// A row as a read (list or retrieve) answers it: whole, or shaped by `fields`, `omit` or
/// `expand` (a whole row matches both).
pub(super) fn read_answer(name: &str) -> Value {
    json!({"anyOf": [reference("schemas", name), reference("schemas", &format!("Shaped{name}"))]})
}

/// A row as writes and plain reads answer it: every column, always present, keys as values.
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

/// A row as a read with `fields`, `omit` or `expand` answers it: any field may be absent
/// (`fields`, `omit`), a foreign key may hold the row it references (`expand=relation`), and a
/// list of the rows that reference this one may be added (`expand=table_set`). The expanded
/// rows are shaped the same way (`relation.field`, `a.b`).
fn shaped_schema(schema: &Schema, table: &Table, names: &[String]) -> Value {
    let own = relations(schema, table);
    let mut properties: Map<String, Value> = Map::new();
    for column in &table.columns {
        let value = column_schema(schema, column, Direction::Read);
        let expanded = own
            .iter()
            .find(|relation| !relation.reverse && relation.field == column.sql_name);
        properties.insert(
            column.sql_name.clone(),
            match expanded {
                Some(relation) => json!({
                    "anyOf": [value, reference("schemas", &format!("Shaped{}", names[relation.rows_of]))],
                    "description": format!("The key; with `expand={}`, the `{}` row it references.", relation.name, schema.tables[relation.rows_of].sql_name)
                }),
                None => value,
            },
        );
    }
    for relation in own.iter().filter(|relation| relation.reverse) {
        properties.insert(
            relation.field.clone(),
            json!({
                "type": "array",
                "items": reference("schemas", &format!("Shaped{}", names[relation.rows_of])),
                "maxItems": MAX_REVERSE_ROWS,
                "description": format!("With `expand={}` only: the `{}` rows that reference this one (the first {MAX_REVERSE_ROWS} by primary key).", relation.name, schema.tables[relation.rows_of].sql_name)
            }),
        );
    }
    json!({
        "type": "object",
        "description": format!("A `{}` row as a read with `fields`, `omit` or `expand` serves it: only the selected fields are present; an expanded key holds the row it references; an expanded `_set` lists the rows that reference this one.", table.sql_name),
        "properties": properties,
        "additionalProperties": false
    })
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
            "properties": {
                "non_field_errors": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Errors of the body as a whole: a body that is not an object, a CHECK over several columns, too many rows in a bulk create."
                }
            },
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
