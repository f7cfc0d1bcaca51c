//! Parsing client values (JSON body fields, query parameters, path keys) into typed SQL values,
//! with Django REST Framework's messages, and rendering them back as canonical JSON.

use base64::Engine as _;
use serde_json::Value;

use crate::data::decimal::DecimalDigits;
use crate::data::meta::{ColumnKind, ColumnMeta, EnumMeta};
use crate::data::sql::SqlValue;

pub const INVALID_INTEGER: &str = "A valid integer is required.";
pub const INVALID_NUMBER: &str = "A valid number is required.";
pub const INVALID_BOOLEAN: &str = "Must be a valid boolean.";
pub const INVALID_STRING: &str = "Not a valid string.";
pub const INVALID_DATE: &str =
    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
pub const INVALID_TIME: &str =
    "Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]].";
pub const INVALID_DATETIME: &str = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
pub const INVALID_UUID: &str = "Must be a valid UUID.";
pub const INVALID_BASE64: &str = "Must be a valid base64 string.";
pub const NULL_CHARACTER: &str = "Null characters are not allowed.";
pub const MAY_NOT_BE_NULL: &str = "This field may not be null.";

/// Why a client's value was refused: one message, or, for a list, messages by item position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidValue {
    Message(String),
    Items(std::collections::BTreeMap<usize, String>),
}

impl From<String> for InvalidValue {
    fn from(message: String) -> InvalidValue {
        InvalidValue::Message(message)
    }
}

impl std::fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidValue::Message(message) => f.write_str(message),
            InvalidValue::Items(items) => {
                for (count, (position, message)) in items.iter().enumerate() {
                    if count > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "item {position}: {message}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parses a value given as text (query parameter, path segment) for `column`: by its kind,
/// and for an enum column, one of its values. For a list column, one item.
pub fn parse_column_text(column: &ColumnMeta, text: &str) -> Result<SqlValue, String> {
    match column.enum_type {
        Some(named) => choice(named, text),
        None => parse_text(column.kind, text),
    }
}

/// Parses a non-null JSON value for `column`: by its kind, and for an enum column, one of its
/// values (numbers count as their text, as DRF's ChoiceField takes them); for a list column,
/// a list of such values (DRF's ListField).
pub fn parse_column_json(column: &ColumnMeta, value: &Value) -> Result<SqlValue, InvalidValue> {
    if !column.array {
        return parse_item_json(column, value).map_err(InvalidValue::Message);
    }
    let Value::Array(items) = value else {
        return Err(InvalidValue::Message(format!(
            "Expected a list of items but got type \"{}\".",
            python_type_name(value)
        )));
    };
    let mut parsed = Vec::with_capacity(items.len());
    let mut errors = std::collections::BTreeMap::new();
    for (position, item) in items.iter().enumerate() {
        let result = if item.is_null() {
            Err(MAY_NOT_BE_NULL.to_string())
        } else {
            parse_item_json(column, item)
        };
        match result {
            Ok(value) => parsed.push(value),
            Err(message) => {
                errors.insert(position, message);
            }
        }
    }
    if errors.is_empty() {
        Ok(SqlValue::List(parsed))
    } else {
        Err(InvalidValue::Items(errors))
    }
}

/// The name Python gives a JSON value's type, as DRF's messages show it.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// One non-null value of `column`'s kind (a list column's item).
fn parse_item_json(column: &ColumnMeta, value: &Value) -> Result<SqlValue, String> {
    match (column.enum_type, value) {
        (Some(named), Value::String(text)) => choice(named, text),
        (Some(named), other) => choice(named, &other.to_string()),
        (None, value) => parse_json(column.kind, value),
    }
}

/// DRF's ChoiceField: the value must be one of the enumeration's.
fn choice(named: &EnumMeta, value: &str) -> Result<SqlValue, String> {
    if named.values.contains(&value) {
        Ok(SqlValue::Text(value.to_string()))
    } else {
        Err(format!("\"{value}\" is not a valid choice."))
    }
}

/// Parses a value given as text (query parameter, path segment) for a column of `kind`.
pub fn parse_text(kind: ColumnKind, text: &str) -> Result<SqlValue, String> {
    parse_text_unchecked(kind, text).and_then(within_limits)
}

fn parse_text_unchecked(kind: ColumnKind, text: &str) -> Result<SqlValue, String> {
    match kind {
        ColumnKind::SmallInt => parse_integer(text, i16::MIN as i64, i16::MAX as i64)
            .map(|v| SqlValue::SmallInt(v as i16)),
        ColumnKind::Integer => parse_integer(text, i32::MIN as i64, i32::MAX as i64)
            .map(|v| SqlValue::Integer(v as i32)),
        ColumnKind::BigInt => parse_integer(text, i64::MIN, i64::MAX).map(SqlValue::BigInt),
        ColumnKind::Boolean => parse_boolean(text)
            .map(SqlValue::Boolean)
            .ok_or_else(|| INVALID_BOOLEAN.to_string()),
        ColumnKind::Real => parse_float(text).and_then(|v| {
            let narrowed = v as f32;
            if narrowed.is_finite() {
                Ok(SqlValue::Real(narrowed))
            } else {
                Err(INVALID_NUMBER.to_string())
            }
        }),
        ColumnKind::Double => parse_float(text).map(SqlValue::Double),
        ColumnKind::Numeric { precision, scale } => {
            parse_decimal(text, precision, scale).map(SqlValue::Numeric)
        }
        ColumnKind::Text
        | ColumnKind::Varchar { .. }
        | ColumnKind::Char { .. }
        | ColumnKind::Citext
        | ColumnKind::Enum => check_text(kind, text).map(|()| SqlValue::Text(text.to_string())),
        ColumnKind::Date => chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(SqlValue::Date)
            .map_err(|_| INVALID_DATE.to_string()),
        ColumnKind::Time => parse_time(text.trim())
            .map(SqlValue::Time)
            .ok_or_else(|| INVALID_TIME.to_string()),
        ColumnKind::Timestamp => parse_instant(text.trim())
            .map(|(naive, offset)| match offset {
                // An aware value for a naive column is stored as UTC wall time.
                Some(offset) => SqlValue::Timestamp(naive - offset),
                None => SqlValue::Timestamp(naive),
            })
            .ok_or_else(|| INVALID_DATETIME.to_string()),
        ColumnKind::Timestamptz => parse_instant(text.trim())
            .map(|(naive, offset)| {
                // A naive value for an aware column is read as UTC, as DRF does with TIME_ZONE = "UTC".
                let utc = naive - offset.unwrap_or_default();
                SqlValue::Timestamptz(chrono::DateTime::from_naive_utc_and_offset(
                    utc,
                    chrono::Utc,
                ))
            })
            .ok_or_else(|| INVALID_DATETIME.to_string()),
        ColumnKind::Uuid => uuid::Uuid::parse_str(text.trim())
            .map(SqlValue::Uuid)
            .map_err(|_| INVALID_UUID.to_string()),
        ColumnKind::Json => serde_json::from_str(text)
            .map(SqlValue::Json)
            .map_err(|_| "Value must be valid JSON.".to_string()),
        ColumnKind::Bytes => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(SqlValue::Bytes)
            .map_err(|_| INVALID_BASE64.to_string()),
    }
}

/// Parses a non-null JSON body value for a column of `kind`, accepting what DRF accepts
/// (numbers as strings, `"true"` for booleans, numbers for strings).
pub fn parse_json(kind: ColumnKind, value: &Value) -> Result<SqlValue, String> {
    parse_json_unchecked(kind, value).and_then(within_limits)
}

/// What both backends can store: years 1 to 9999 (Python's, so DRF's, range; PostgreSQL
/// refuses years before 4713 BC), and no NUL characters in JSON (PostgreSQL's jsonb refuses
/// them).
fn within_limits(value: SqlValue) -> Result<SqlValue, String> {
    use chrono::Datelike as _;
    let year_ok = |year: i32| (1..=9999).contains(&year);
    match &value {
        SqlValue::Date(date) if !year_ok(date.year()) => Err(INVALID_DATE.to_string()),
        SqlValue::Timestamp(instant) if !year_ok(instant.year()) => {
            Err(INVALID_DATETIME.to_string())
        }
        SqlValue::Timestamptz(instant) if !year_ok(instant.year()) => {
            Err(INVALID_DATETIME.to_string())
        }
        SqlValue::Json(document) if contains_nul(document) => Err(NULL_CHARACTER.to_string()),
        _ => Ok(value),
    }
}

fn contains_nul(document: &Value) -> bool {
    match document {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(members) => members
            .iter()
            .any(|(key, member)| key.contains('\0') || contains_nul(member)),
        _ => false,
    }
}

fn parse_json_unchecked(kind: ColumnKind, value: &Value) -> Result<SqlValue, String> {
    match (kind, value) {
        (ColumnKind::Json, value) => Ok(SqlValue::Json(value.clone())),
        (ColumnKind::Boolean, Value::Bool(b)) => Ok(SqlValue::Boolean(*b)),
        (ColumnKind::Boolean, Value::Number(n)) => match n.as_i64() {
            Some(1) => Ok(SqlValue::Boolean(true)),
            Some(0) => Ok(SqlValue::Boolean(false)),
            _ => Err(INVALID_BOOLEAN.to_string()),
        },
        (ColumnKind::Boolean, _) if !value.is_string() => Err(INVALID_BOOLEAN.to_string()),
        (
            ColumnKind::Text
            | ColumnKind::Varchar { .. }
            | ColumnKind::Char { .. }
            | ColumnKind::Citext
            | ColumnKind::Enum,
            Value::Number(n),
        ) => parse_text(kind, &n.to_string()),
        (
            ColumnKind::Text
            | ColumnKind::Varchar { .. }
            | ColumnKind::Char { .. }
            | ColumnKind::Citext
            | ColumnKind::Enum,
            Value::String(s),
        ) => parse_text(kind, s),
        (
            ColumnKind::Text
            | ColumnKind::Varchar { .. }
            | ColumnKind::Char { .. }
            | ColumnKind::Citext
            | ColumnKind::Enum,
            _,
        ) => Err(INVALID_STRING.to_string()),
        (ColumnKind::SmallInt | ColumnKind::Integer | ColumnKind::BigInt, Value::Number(n)) => {
            parse_text(kind, &n.to_string())
        }
        (ColumnKind::SmallInt | ColumnKind::Integer | ColumnKind::BigInt, Value::String(s)) => {
            parse_text(kind, s)
        }
        (ColumnKind::SmallInt | ColumnKind::Integer | ColumnKind::BigInt, _) => {
            Err(INVALID_INTEGER.to_string())
        }
        (ColumnKind::Real | ColumnKind::Double | ColumnKind::Numeric { .. }, Value::Number(n)) => {
            parse_text(kind, &n.to_string())
        }
        (ColumnKind::Real | ColumnKind::Double | ColumnKind::Numeric { .. }, Value::String(s)) => {
            parse_text(kind, s)
        }
        (ColumnKind::Real | ColumnKind::Double | ColumnKind::Numeric { .. }, _) => {
            Err(INVALID_NUMBER.to_string())
        }
        (_, Value::String(s)) => parse_text(kind, s),
        (ColumnKind::Date, _) => Err(INVALID_DATE.to_string()),
        (ColumnKind::Time, _) => Err(INVALID_TIME.to_string()),
        (ColumnKind::Timestamp | ColumnKind::Timestamptz, _) => Err(INVALID_DATETIME.to_string()),
        (ColumnKind::Uuid, _) => Err(INVALID_UUID.to_string()),
        (ColumnKind::Bytes, _) => Err(INVALID_BASE64.to_string()),
        (ColumnKind::Boolean, _) => Err(INVALID_BOOLEAN.to_string()),
    }
}

pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "True" | "TRUE" | "1" | "yes" | "Yes" | "on" | "On" | "t" | "T" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "0" | "no" | "No" | "off" | "Off" | "f" | "F" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

fn parse_integer(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let text = text.trim();
    // DRF accepts "7.0" for an integer field, but not "7.5".
    let integral = match text.split_once('.') {
        Some((whole, fraction)) if !whole.is_empty() && fraction.bytes().all(|b| b == b'0') => {
            whole
        }
        Some(_) => return Err(INVALID_INTEGER.to_string()),
        None => text,
    };
    let value: i128 = integral.parse().map_err(|_| INVALID_INTEGER.to_string())?;
    if value > max as i128 {
        return Err(format!("Ensure this value is less than or equal to {max}."));
    }
    if value < min as i128 {
        return Err(format!(
            "Ensure this value is greater than or equal to {min}."
        ));
    }
    Ok(value as i64)
}

fn parse_float(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(INVALID_NUMBER.to_string()),
    }
}

fn parse_decimal(text: &str, precision: u32, scale: u32) -> Result<String, String> {
    let digits = DecimalDigits::parse(text).ok_or_else(|| INVALID_NUMBER.to_string())?;
    let whole = digits.integer_digit_count();
    let places = digits.significant_fraction_digit_count();
    let max_whole = (precision - scale) as usize;
    if whole + places > precision as usize {
        return Err(format!(
            "Ensure that there are no more than {precision} digits in total."
        ));
    }
    if places > scale as usize {
        return Err(format!(
            "Ensure that there are no more than {scale} decimal places."
        ));
    }
    if whole > max_whole {
        return Err(format!(
            "Ensure that there are no more than {max_whole} digits before the decimal point."
        ));
    }
    Ok(digits.to_scale(scale as usize))
}

fn check_text(kind: ColumnKind, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(NULL_CHARACTER.to_string());
    }
    if let Some(max_length) = kind.max_length()
        && text.chars().count() > max_length as usize
    {
        return Err(format!(
            "Ensure this field has no more than {max_length} characters."
        ));
    }
    Ok(())
}

fn parse_time(text: &str) -> Option<chrono::NaiveTime> {
    ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|format| chrono::NaiveTime::parse_from_str(text, format).ok())
}

/// A date-time with its UTC offset, if it had one: ISO 8601 with `T` or a space.
fn parse_instant(text: &str) -> Option<(chrono::NaiveDateTime, Option<chrono::TimeDelta>)> {
    if let Ok(aware) = chrono::DateTime::parse_from_rfc3339(text) {
        let offset = chrono::TimeDelta::seconds(aware.offset().local_minus_utc() as i64);
        return Some((aware.naive_local(), Some(offset)));
    }
    for format in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(aware) = chrono::DateTime::parse_from_str(text, format) {
            let offset = chrono::TimeDelta::seconds(aware.offset().local_minus_utc() as i64);
            return Some((aware.naive_local(), Some(offset)));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some((naive, None));
        }
    }
    None
}

#[cfg(test)]
mod tests;
