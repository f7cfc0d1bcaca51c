//! The JSON Schema of one column's value as the runtime serves it (reads), accepts it in a
//! body (writes) or parses it from a query string or path: types, formats, patterns, `null`,
//! enums, defaults, read-only columns and the columns' `doc` texts.

use serde_json::{Map, Value, json};
use tenantapi_schema::model::{Column, ColumnType, DefaultValue, Schema};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// A value the server answers with.
    Read,
    /// A value a client sends in a body.
    Write,
    /// A value in a query string or path.
    Query,
}

pub(super) fn numeric_input_pattern(precision: u32, scale: u32) -> Value {
    let whole = precision - scale;
    json!({
        "type": "string",
        "pattern": format!(r"^\s*[-+]?\d{{0,{whole}}}(\.\d{{0,{scale}}})?\s*$"),
        "description": format!("A decimal number of at most {precision} digits, {scale} after the point.")
    })
}

/// The JSON Schema of one non-null value of `column`'s type (an item, for a list).
pub(super) fn scalar_schema(column: &Column, direction: Direction) -> Value {
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
        // Without an offset, so not JSON Schema's `time` format (RFC 3339's `full-time` requires
        // one): a pattern instead (docs/api.md, "The API describes itself").
        ColumnType::Time => json!({
            "type": "string",
            "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
            "description": "hh:mm[:ss[.uuuuuu]]"
        }),
        // `format: byte` for OpenAPI 3.0-era tools, `contentEncoding` for JSON Schema 2020-12.
        ColumnType::Bytes => json!({
            "type": "string",
            "format": "byte",
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
pub(super) fn or_null(mut schema: Value) -> Value {
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
pub(super) fn column_schema(schema: &Schema, column: &Column, direction: Direction) -> Value {
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
pub(super) fn default_json(column: &Column, default: &DefaultValue) -> Option<Value> {
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
pub(super) fn fixed_scale(text: &str, scale: u32) -> String {
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
