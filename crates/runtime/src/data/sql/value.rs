//! The typed values that SQL binds carry, and their JSON and text forms.

use base64::Engine as _;
use serde_json::Value;

/// A value bound to a filter or key lookup, typed by its column's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Boolean(bool),
    Real(f32),
    Double(f64),
    /// Exact decimal text, validated.
    Numeric(String),
    Text(String),
    Date(chrono::NaiveDate),
    Time(chrono::NaiveTime),
    Timestamp(chrono::NaiveDateTime),
    Timestamptz(chrono::DateTime<chrono::Utc>),
    Uuid(uuid::Uuid),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
    /// A list column's items (never null: the API refuses null items).
    List(Vec<SqlValue>),
}

impl SqlValue {
    /// The JSON form that generated models deserialize and responses show.
    pub fn to_json(&self) -> Value {
        match self {
            SqlValue::SmallInt(v) => Value::from(*v),
            SqlValue::Integer(v) => Value::from(*v),
            SqlValue::BigInt(v) => Value::from(*v),
            SqlValue::Boolean(v) => Value::from(*v),
            SqlValue::Real(v) => Value::from(*v as f64),
            SqlValue::Double(v) => Value::from(*v),
            SqlValue::Numeric(v) | SqlValue::Text(v) => Value::from(v.as_str()),
            SqlValue::Date(v) => Value::from(v.format("%Y-%m-%d").to_string()),
            SqlValue::Time(v) => Value::from(v.format("%H:%M:%S%.f").to_string()),
            SqlValue::Timestamp(v) => Value::from(v.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            SqlValue::Timestamptz(v) => {
                Value::from(v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            SqlValue::Uuid(v) => Value::from(v.hyphenated().to_string()),
            SqlValue::Json(v) => v.clone(),
            SqlValue::Bytes(v) => Value::from(base64::engine::general_purpose::STANDARD.encode(v)),
            SqlValue::List(items) => Value::Array(items.iter().map(SqlValue::to_json).collect()),
        }
    }

    /// The text form of a value, as it appears in URLs and messages.
    pub fn to_text(&self) -> String {
        match self.to_json() {
            Value::String(text) => text,
            other => other.to_string(),
        }
    }
}
