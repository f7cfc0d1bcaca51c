//! Request bodies: content type, size, JSON syntax, then field-by-field validation against a
//! table's metadata, all before the database sees anything.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use serde_json::{Map, Value};

use crate::data::convert;
use crate::data::meta::TableMeta;
use crate::http::error::{ApiError, FieldErrors};

/// What a write request may leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// POST: every required column must be present.
    Create,
    /// PUT: like create; columns left out keep their values.
    Replace,
    /// PATCH: any subset of columns.
    Partial,
}

pub const REQUIRED: &str = "This field is required.";
pub const MAY_NOT_BE_NULL: &str = convert::MAY_NOT_BE_NULL;
pub const UNKNOWN_FIELD: &str = "Unknown field.";
/// A column the database computes or the API serves read-only (not a generated key, which is
/// ignored on input so that a client can send back what it read).
pub const READ_ONLY: &str = "This field is read-only: the database maintains it.";

/// Checks the content type: JSON bodies only, as DRF's `JSONParser` alone would accept.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(content_type) = content_type else {
        return Err(ApiError::UnsupportedMediaType(String::new()));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(content_type.to_string()))
    }
}

/// Parses the body bytes as JSON with DRF's error wording.
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| ApiError::JsonParse(error.to_string()))
}

/// Validates a JSON body for a write and returns the canonical object the generated model
/// deserializes: only known, writable columns, each value in its canonical JSON form.
pub fn validate(
    meta: &TableMeta,
    body: Value,
    mode: WriteMode,
) -> Result<Map<String, Value>, ApiError> {
    let object = match body {
        Value::Object(object) => object,
        other => {
            let got = match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            };
            return Err(ApiError::Validation(FieldErrors::single(
                "non_field_errors",
                format!("Invalid data. Expected a dictionary, but got {got}."),
            )));
        }
    };
    let mut errors = FieldErrors::new();
    let mut canonical = Map::new();
    for (name, value) in object {
        let Some(column) = meta.column(&name) else {
            errors.add(name, UNKNOWN_FIELD);
            continue;
        };
        if column.generated {
            // Read-only: ignored so that a client can PUT back what it got.
            continue;
        }
        if column.read_only {
            errors.add(name, READ_ONLY);
            continue;
        }
        if value.is_null() {
            if column.nullable {
                canonical.insert(name, Value::Null);
            } else {
                errors.add(name, MAY_NOT_BE_NULL);
            }
            continue;
        }
        match convert::parse_column_json(column, &value) {
            Ok(parsed) => {
                canonical.insert(name, parsed.to_json());
            }
            Err(invalid) => errors.add_invalid(name, invalid),
        }
    }
    if mode != WriteMode::Partial {
        for column in meta.columns {
            if column.is_required_on_create()
                && !canonical.contains_key(column.name)
                && !errors.contains(column.name)
            {
                errors.add(column.name, REQUIRED);
            }
        }
    }
    if errors.is_empty() {
        Ok(canonical)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Reads a JSON body after checking its type and size, before anything touches the database.
pub async fn read_json_body(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    check_content_type(content_type)?;
    if let Some(length) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        && length > limit
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|error| {
            ApiError::BadRequest(format!("The request body could not be read: {error}"))
        })?;
    parse_json_body(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::meta::{ColumnKind, ColumnMeta};

    const COLUMNS: &[ColumnMeta] = &[
        ColumnMeta {
            generated: true,
            ..ColumnMeta::plain("id", ColumnKind::Integer)
        },
        ColumnMeta::plain("name", ColumnKind::Varchar { max_length: 5 }),
        ColumnMeta {
            nullable: true,
            ..ColumnMeta::plain("unit", ColumnKind::Varchar { max_length: 20 })
        },
        ColumnMeta {
            has_default: true,
            ..ColumnMeta::plain("active", ColumnKind::Boolean)
        },
    ];
    const META: TableMeta = TableMeta {
        name: "data_point",
        verbose_name: "data point",
        doc: None,
        read_only: false,
        columns: COLUMNS,
        primary_key: &[0],
        ordering: &[],
        unique: &[],
        foreign_keys: &[],
        ignored_columns: &[],
        search: &[],
    };

    fn errors_of(body: Value, mode: WriteMode) -> serde_json::Value {
        match validate(&META, body, mode) {
            Err(ApiError::Validation(errors)) => serde_json::to_value(errors).unwrap(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn create_requires_columns_without_default() {
        let errors = errors_of(serde_json::json!({}), WriteMode::Create);
        assert_eq!(errors, serde_json::json!({"name": [REQUIRED]}));
    }

    #[test]
    fn partial_requires_nothing_and_keeps_explicit_null() {
        let body = validate(&META, serde_json::json!({"unit": null}), WriteMode::Partial).unwrap();
        assert_eq!(Value::Object(body), serde_json::json!({"unit": null}));
    }

    #[test]
    fn generated_columns_are_ignored_and_unknown_ones_rejected() {
        let body = validate(
            &META,
            serde_json::json!({"id": 9, "name": "a", "active": "true"}),
            WriteMode::Replace,
        )
        .unwrap();
        assert_eq!(
            Value::Object(body),
            serde_json::json!({"name": "a", "active": true})
        );
        let errors = errors_of(
            serde_json::json!({"name": "a", "colour": 1}),
            WriteMode::Create,
        );
        assert_eq!(errors, serde_json::json!({"colour": [UNKNOWN_FIELD]}));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = errors_of(
            serde_json::json!({"name": null, "active": "maybe", "unit": "x".repeat(21)}),
            WriteMode::Create,
        );
        assert_eq!(
            errors,
            serde_json::json!({
                "name": [MAY_NOT_BE_NULL],
                "active": [convert::INVALID_BOOLEAN],
                "unit": ["Ensure this field has no more than 20 characters."],
            })
        );
    }

    #[test]
    fn non_objects_are_rejected_like_drf() {
        let errors = errors_of(serde_json::json!([1, 2]), WriteMode::Create);
        assert_eq!(
            errors,
            serde_json::json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
    }

    #[test]
    fn content_types_other_than_json_are_unsupported() {
        assert!(check_content_type(Some("application/json; charset=utf-8")).is_ok());
        assert!(check_content_type(Some("application/merge-patch+json")).is_ok());
        assert!(matches!(
            check_content_type(Some("text/plain")),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            check_content_type(None),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
