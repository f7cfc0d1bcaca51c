//! Column value types whose JSON and database forms need care: exact decimals, UUIDs,
//! time zone aware timestamps, JSON documents and byte strings, on both backends.
//!
//! diesel's `MultiBackend` maps only the types both backends share, so each type here has
//! its own SQL type with a PostgreSQL form, a SQLite form, and the glue that lets the
//! connection enum pick one at run time.

use std::io::Write as _;

use base64::Engine as _;
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sqlite::Sqlite;

use crate::connections::db::{MultiBackend, MultiRawValue};
use crate::data::decimal::DecimalDigits;
use crate::data::stored::Stored;

/// SQL types used by generated `table!` definitions beside diesel's own. Their names differ
/// from diesel's on purpose: `table!` derives arithmetic operators for columns by type name.
pub mod sql_types {
    /// `uuid` on PostgreSQL; canonical hyphenated text on SQLite.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableUuid;

    /// `timestamptz` on PostgreSQL; UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]` on SQLite, the form
    /// SQLite's own date functions and `CURRENT_TIMESTAMP` use, so text order is time order.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableTimestamptz;

    /// `jsonb` on PostgreSQL; JSON text on SQLite.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 3802, array_oid = 3807))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableJson;

    /// `numeric(p, s)` on both; bound as text on SQLite so that its NUMERIC affinity decides.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 1700, array_oid = 1231))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableNumeric;

    /// `smallint` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 21, array_oid = 1005))]
    #[diesel(sqlite_type(name = "SmallInt"))]
    pub struct PortableSmallInt;

    /// `integer` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 23, array_oid = 1007))]
    #[diesel(sqlite_type(name = "Integer"))]
    pub struct PortableInteger;

    /// `bigint` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 20, array_oid = 1016))]
    #[diesel(sqlite_type(name = "Long"))]
    pub struct PortableBigInt;

    /// `boolean` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 16, array_oid = 1000))]
    #[diesel(sqlite_type(name = "Integer"))]
    pub struct PortableBool;

    /// `real` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 700, array_oid = 1021))]
    #[diesel(sqlite_type(name = "Float"))]
    pub struct PortableFloat;

    /// `double precision` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 701, array_oid = 1022))]
    #[diesel(sqlite_type(name = "Double"))]
    pub struct PortableDouble;

    /// `date` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 1082, array_oid = 1182))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableDate;

    /// `time` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 1083, array_oid = 1183))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableTime;

    /// `timestamp` on PostgreSQL (read by diesel); on SQLite read by storage class
    /// (`crate::data::stored`), since a SQLite column may hold any.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 1114, array_oid = 1115))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableTimestamp;

    /// `text` (and `varchar`, `char`, `citext`, enum labels) on PostgreSQL, read by diesel;
    /// on SQLite read by storage class (`crate::data::stored::text`).
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    #[diesel(postgres_type(oid = 25, array_oid = 1009))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct PortableText;

    /// A list of `ST` values: an array on PostgreSQL; JSON text on SQLite, which has none.
    #[derive(
        diesel::sql_types::SqlType, diesel::query_builder::QueryId, Debug, Clone, Copy, Default,
    )]
    pub struct PortableArray<ST: 'static>(ST);
}

/// Implements the `MultiBackend` side of a value type whose PostgreSQL and SQLite sides exist:
/// the connection enum dispatches to the backend it holds.
macro_rules! multi_backend_value {
    ($sql_type:ty, $rust_type:ty $(, $generic:tt)?) => {
        impl $(<const $generic: u32>)? FromSql<$sql_type, MultiBackend> for $rust_type {
            fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql_type>()
            }
        }

        impl $(<const $generic: u32>)? ToSql<$sql_type, MultiBackend> for $rust_type {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((<$sql_type>::default(), self));
                Ok(IsNull::No)
            }
        }
    };
}

impl diesel::sql_types::HasSqlType<sql_types::PortableUuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableUuid>(lookup)
    }
}
impl diesel::sql_types::HasSqlType<sql_types::PortableTimestamptz> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableTimestamptz>(lookup)
    }
}
impl diesel::sql_types::HasSqlType<sql_types::PortableJson> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableJson>(lookup)
    }
}
impl<ST: 'static> diesel::sql_types::HasSqlType<sql_types::PortableArray<ST>> for MultiBackend
where
    Pg: diesel::sql_types::HasSqlType<ST>,
{
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableArray<ST>>(lookup)
    }
}
impl<ST: 'static> diesel::sql_types::HasSqlType<sql_types::PortableArray<ST>> for Pg
where
    Pg: diesel::sql_types::HasSqlType<ST>,
{
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        <Pg as diesel::sql_types::HasSqlType<diesel::sql_types::Array<ST>>>::metadata(lookup)
    }
}
impl<ST: 'static> diesel::sql_types::HasSqlType<sql_types::PortableArray<ST>> for Sqlite {
    fn metadata(_lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        diesel::sqlite::SqliteType::Text
    }
}
impl diesel::sql_types::HasSqlType<sql_types::PortableNumeric> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableNumeric>(lookup)
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars diesel maps on both backends, read by storage class on SQLite

/// Implements a scalar whose PostgreSQL read is diesel's own (`$diesel_type`, unchanged and
/// as fast) and whose SQLite read is `$sqlite_read` over the value's storage class.
macro_rules! checked_scalar {
    ($sql_type:ty, $rust_type:ty, $diesel_type:ty, $sqlite_read:expr) => {
        impl diesel::sql_types::HasSqlType<$sql_type> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql_type>(lookup)
            }
        }

        impl FromSql<$sql_type, Pg> for $rust_type {
            #[inline]
            fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
                <$rust_type as FromSql<$diesel_type, Pg>>::from_sql(value)
            }
        }

        impl FromSql<$sql_type, Sqlite> for $rust_type {
            fn from_sql(
                mut value: diesel::sqlite::SqliteValue<'_, '_, '_>,
            ) -> deserialize::Result<Self> {
                let read: fn(
                    Stored<'_>,
                ) -> Result<$rust_type, crate::data::stored::UnreadableValue> = $sqlite_read;
                Ok(read(Stored::read(&mut value))?)
            }
        }

        impl FromSql<$sql_type, MultiBackend> for $rust_type {
            #[inline]
            fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql_type>()
            }
        }
    };
}

checked_scalar!(
    sql_types::PortableSmallInt,
    i16,
    diesel::sql_types::SmallInt,
    |stored| crate::data::stored::integer(stored, "a smallint (-32768 to 32767)")
);
checked_scalar!(
    sql_types::PortableInteger,
    i32,
    diesel::sql_types::Integer,
    |stored| crate::data::stored::integer(stored, "an integer (32 bits)")
);
checked_scalar!(
    sql_types::PortableBigInt,
    i64,
    diesel::sql_types::BigInt,
    |stored| crate::data::stored::integer(stored, "a bigint (64 bits)")
);
checked_scalar!(
    sql_types::PortableBool,
    bool,
    diesel::sql_types::Bool,
    crate::data::stored::boolean
);
// A real column is single precision as described: a stored double is served at that precision.
checked_scalar!(
    sql_types::PortableFloat,
    f32,
    diesel::sql_types::Float,
    |stored| crate::data::stored::double(stored).map(|value| value as f32)
);
checked_scalar!(
    sql_types::PortableDouble,
    f64,
    diesel::sql_types::Double,
    crate::data::stored::double
);
impl diesel::sql_types::HasSqlType<sql_types::PortableText> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql_types::PortableText>(lookup)
    }
}

impl FromSql<sql_types::PortableText, Pg> for String {
    #[inline]
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <String as FromSql<diesel::sql_types::Text, Pg>>::from_sql(value)
    }
}

impl FromSql<sql_types::PortableText, Sqlite> for String {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        // diesel's read replaces bytes that are not UTF-8 with U+FFFD without a word: a text
        // holding U+FFFD (rare) is checked again on its bytes, as is every blob.
        let blob = value.value_type() == Some(diesel::sqlite::SqliteType::Binary);
        if !blob {
            let text = value.read_text();
            if !text.contains('\u{FFFD}') {
                return Ok(text.to_string());
            }
        }
        let bytes = value.read_blob();
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(_) if blob => Err(Box::new(Stored::Blob(bytes).refused("text (UTF-8)"))),
            // Shown with its invalid bytes replaced; the log cannot find its rows by it.
            Err(_) => Err(Box::new(
                Stored::Text(&String::from_utf8_lossy(bytes)).refused("text (UTF-8)"),
            )),
        }
    }
}

impl FromSql<sql_types::PortableText, MultiBackend> for String {
    #[inline]
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, sql_types::PortableText>()
    }
}

checked_scalar!(
    sql_types::PortableDate,
    chrono::NaiveDate,
    diesel::sql_types::Date,
    crate::data::stored::date
);
checked_scalar!(
    sql_types::PortableTime,
    chrono::NaiveTime,
    diesel::sql_types::Time,
    crate::data::stored::time
);
checked_scalar!(
    sql_types::PortableTimestamp,
    chrono::NaiveDateTime,
    diesel::sql_types::Timestamp,
    crate::data::stored::timestamp
);

// ---------------------------------------------------------------------------------------------
// UUID

/// A UUID; JSON form: the hyphenated lowercase string.
#[derive(
    Default,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    AsExpression,
    FromSqlRow,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(sql_type = sql_types::PortableUuid)]
#[serde(transparent)]
pub struct Uuid(pub uuid::Uuid);

impl ToSql<sql_types::PortableUuid, Pg> for Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::PortableUuid, Pg> for Uuid {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Uuid(uuid::Uuid::from_slice(value.as_bytes())?))
    }
}

impl ToSql<sql_types::PortableUuid, Sqlite> for Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::PortableUuid, Sqlite> for Uuid {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        // Databases written by other tools may hold the 16 raw bytes instead of text. Anything
        // else is refused as an `UnreadableValue`, so that the log names the rows holding it.
        let stored = Stored::read(&mut value);
        let read = match stored {
            Stored::Blob(bytes) => uuid::Uuid::from_slice(bytes).ok(),
            Stored::Text(text) => uuid::Uuid::parse_str(text).ok(),
            _ => None,
        };
        Ok(Uuid(read.ok_or_else(|| stored.refused("a UUID"))?))
    }
}

multi_backend_value!(sql_types::PortableUuid, Uuid);

// ---------------------------------------------------------------------------------------------
// Timestamps with time zone

/// An instant; JSON form: RFC 3339 in UTC (`2024-06-01T12:00:00Z`).
#[derive(
    Default,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    AsExpression,
    FromSqlRow,
    serde::Deserialize,
)]
#[diesel(sql_type = sql_types::PortableTimestamptz)]
#[serde(transparent)]
pub struct Timestamptz(pub chrono::DateTime<chrono::Utc>);

/// As chrono serializes a `DateTime<Utc>` (RFC 3339, `Z`, the fraction in 3, 6 or 9 digits as
/// it needs, none when whole), written into a buffer digit by digit: chrono's formatter writes
/// character by character and took a sixth of a PostgreSQL export's time (profiled). Years
/// outside 0 to 9999 and leap seconds are chrono's to write.
impl serde::Serialize for Timestamptz {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike as _, Timelike as _};
        let instant = &self.0;
        let nanos = instant.nanosecond();
        let year = instant.year();
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return instant.serialize(serializer);
        }
        struct Buffer {
            text: [u8; 30],
            length: usize,
        }
        impl Buffer {
            fn byte(&mut self, byte: u8) {
                self.text[self.length] = byte;
                self.length += 1;
            }
            fn digits(&mut self, value: u32, width: u32) {
                for position in (0..width).rev() {
                    self.byte(b'0' + ((value / 10u32.pow(position)) % 10) as u8);
                }
            }
        }
        let mut buffer = Buffer {
            text: [0; 30],
            length: 0,
        };
        buffer.digits(year as u32, 4);
        buffer.byte(b'-');
        buffer.digits(instant.month(), 2);
        buffer.byte(b'-');
        buffer.digits(instant.day(), 2);
        buffer.byte(b'T');
        buffer.digits(instant.hour(), 2);
        buffer.byte(b':');
        buffer.digits(instant.minute(), 2);
        buffer.byte(b':');
        buffer.digits(instant.second(), 2);
        let fraction = match nanos {
            0 => None,
            _ if nanos.is_multiple_of(1_000_000) => Some((nanos / 1_000_000, 3)),
            _ if nanos.is_multiple_of(1_000) => Some((nanos / 1_000, 6)),
            _ => Some((nanos, 9)),
        };
        if let Some((value, width)) = fraction {
            buffer.byte(b'.');
            buffer.digits(value, width);
        }
        buffer.byte(b'Z');
        serializer.serialize_str(std::str::from_utf8(&buffer.text[..buffer.length]).expect("ascii"))
    }
}

/// How instants are written into SQLite text columns.
pub const SQLITE_TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

impl ToSql<sql_types::PortableTimestamptz, Pg> for Timestamptz {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <chrono::DateTime<chrono::Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(
            &self.0,
            &mut out.reborrow(),
        )
    }
}

impl FromSql<sql_types::PortableTimestamptz, Pg> for Timestamptz {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <chrono::DateTime<chrono::Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(
            value,
        )
        .map(Timestamptz)
    }
}

impl ToSql<sql_types::PortableTimestamptz, Sqlite> for Timestamptz {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.format(SQLITE_TIMESTAMP_FORMAT).to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::PortableTimestamptz, Sqlite> for Timestamptz {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        use chrono::TimeZone as _;
        let stored = Stored::read(&mut value);
        let instant = crate::data::stored::timestamp(stored)
            .map_err(|_| stored.refused("a timestamp with time zone"))?;
        Ok(Timestamptz(chrono::Utc.from_utc_datetime(&instant)))
    }
}

multi_backend_value!(sql_types::PortableTimestamptz, Timestamptz);

// ---------------------------------------------------------------------------------------------
// JSON documents

/// A JSON document, stored and returned as is.
#[derive(
    Default, Debug, Clone, PartialEq, AsExpression, FromSqlRow, serde::Serialize, serde::Deserialize,
)]
#[diesel(sql_type = sql_types::PortableJson)]
#[serde(transparent)]
pub struct Json(pub serde_json::Value);

impl ToSql<sql_types::PortableJson, Pg> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <serde_json::Value as ToSql<diesel::sql_types::Jsonb, Pg>>::to_sql(
            &self.0,
            &mut out.reborrow(),
        )
    }
}

impl FromSql<sql_types::PortableJson, Pg> for Json {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        // A `json` column (not `jsonb`) arrives as plain text, without jsonb's version byte.
        if value.get_oid().get() == 114 {
            return Ok(Json(serde_json::from_slice(value.as_bytes())?));
        }
        <serde_json::Value as FromSql<diesel::sql_types::Jsonb, Pg>>::from_sql(value).map(Json)
    }
}

impl ToSql<sql_types::PortableJson, Sqlite> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::PortableJson, Sqlite> for Json {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        // JSON text (or a number SQLite keeps as one); anything else is refused as an
        // `UnreadableValue`, so that the log names the rows holding it.
        let stored = Stored::read(&mut value);
        let read = match stored {
            Stored::Text(text) => serde_json::from_str(text).ok(),
            Stored::Blob(bytes) => serde_json::from_slice(bytes).ok(),
            Stored::Integer(number) => Some(serde_json::Value::from(number)),
            Stored::Real(number) => {
                serde_json::Number::from_f64(number).map(serde_json::Value::Number)
            }
        };
        Ok(Json(read.ok_or_else(|| stored.refused("JSON"))?))
    }
}

multi_backend_value!(sql_types::PortableJson, Json);

// ---------------------------------------------------------------------------------------------
// Exact decimals

/// An exact decimal of a `numeric(p, SCALE)` column; JSON form: a string with exactly
/// `SCALE` fraction digits, as Django REST Framework renders `DecimalField`.
#[derive(
    Default,
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    AsExpression,
    FromSqlRow,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(sql_type = sql_types::PortableNumeric)]
#[serde(transparent)]
pub struct Decimal<const SCALE: u32>(pub String);

impl<const SCALE: u32> Decimal<SCALE> {
    fn digits(&self) -> Result<DecimalDigits, Box<dyn std::error::Error + Send + Sync>> {
        DecimalDigits::parse(&self.0).ok_or_else(|| format!("invalid decimal {:?}", self.0).into())
    }

    fn from_digits(digits: &DecimalDigits) -> Self {
        Decimal(digits.to_scale(SCALE as usize))
    }
}

impl<const SCALE: u32> ToSql<sql_types::PortableNumeric, Pg> for Decimal<SCALE> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let numeric = self.digits()?.to_pg_numeric();
        <diesel::pg::data_types::PgNumeric as ToSql<diesel::sql_types::Numeric, Pg>>::to_sql(
            &numeric,
            &mut out.reborrow(),
        )
    }
}

impl<const SCALE: u32> FromSql<sql_types::PortableNumeric, Pg> for Decimal<SCALE> {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        let numeric = <diesel::pg::data_types::PgNumeric as FromSql<
            diesel::sql_types::Numeric,
            Pg,
        >>::from_sql(value)?;
        // PostgreSQL's numeric can hold NaN; it is shown as DRF shows Decimal("NaN"),
        // rather than failing every read of the table.
        match DecimalDigits::from_pg_numeric(&numeric) {
            Some(digits) => Ok(Decimal::from_digits(&digits)),
            None => Ok(Decimal("NaN".into())),
        }
    }
}

impl<const SCALE: u32> ToSql<sql_types::PortableNumeric, Sqlite> for Decimal<SCALE> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // Written as given (validated already): rounding here would change filter operands.
        self.digits()?;
        out.set_value(self.0.trim().to_string());
        Ok(IsNull::No)
    }
}

/// The text of a decimal SQLite holds. NUMERIC affinity stores INTEGER or REAL; a REAL is
/// taken to the 15 significant digits SQLite keeps exact (so that a sum's 3.9800000000000004
/// is 3.98), and a TEXT column holds the digits as written. `None` for a blob.
fn sqlite_decimal_text(value: &mut diesel::sqlite::SqliteValue<'_, '_, '_>) -> Option<String> {
    match value.value_type() {
        Some(diesel::sqlite::SqliteType::Binary) => None,
        Some(diesel::sqlite::SqliteType::Double) => {
            Some(fifteen_significant_digits(value.read_double()))
        }
        _ => Some(value.read_text().to_string()),
    }
}

/// A double's decimal value to the 15 significant digits SQLite keeps exact. Its shortest
/// round-trip form when that has 15 or fewer (a value written as such a decimal: the usual
/// case): the double is then far closer to it than to any other 15-digit decimal, so rounding
/// would give the same digits, without the exact formatting, which took a tenth of a SQLite
/// export's time (`xtask/bench/export.sh`, profiled). Else rounded correctly, the slow way.
fn fifteen_significant_digits(value: f64) -> String {
    let shortest = value.to_string();
    let significant = shortest
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&digit| digit == b'0')
        .count();
    if significant <= 15 && value.is_finite() {
        shortest
    } else {
        format!("{value:.14e}")
    }
}

impl<const SCALE: u32> FromSql<sql_types::PortableNumeric, Sqlite> for Decimal<SCALE> {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        // The scale is restored here; digits past it that are not zeros would be rounded
        // away, so such a value is refused rather than changed (the API never writes one).
        let text = sqlite_decimal_text(&mut value);
        let exact = match text {
            None => None,
            Some(text) => DecimalDigits::parse(&text).filter(|digits| {
                digits
                    .fraction
                    .bytes()
                    .skip(SCALE as usize)
                    .all(|digit| digit == b'0')
            }),
        };
        match exact {
            Some(digits) => Ok(Decimal::from_digits(&digits)),
            None => Err(Box::new(Stored::read(&mut value).refused(if SCALE == 0 {
                "a decimal without fraction digits"
            } else {
                "a decimal of the column's scale"
            }))),
        }
    }
}

multi_backend_value!(sql_types::PortableNumeric, Decimal<SCALE>, SCALE);

/// A decimal whose scale the statement decides, not a column: an aggregate of a `numeric`
/// column (a sum, an extreme), rendered at the column's scale by its reader. `None` for
/// PostgreSQL's NaN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyScaleDecimal(pub Option<DecimalDigits>);

impl FromSql<sql_types::PortableNumeric, Pg> for AnyScaleDecimal {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        let numeric = <diesel::pg::data_types::PgNumeric as FromSql<
            diesel::sql_types::Numeric,
            Pg,
        >>::from_sql(value)?;
        Ok(AnyScaleDecimal(DecimalDigits::from_pg_numeric(&numeric)))
    }
}

impl FromSql<sql_types::PortableNumeric, Sqlite> for AnyScaleDecimal {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        match sqlite_decimal_text(&mut value)
            .as_deref()
            .and_then(DecimalDigits::parse)
        {
            Some(digits) => Ok(AnyScaleDecimal(Some(digits))),
            None => Err(Box::new(Stored::read(&mut value).refused("a decimal"))),
        }
    }
}

impl FromSql<sql_types::PortableNumeric, MultiBackend> for AnyScaleDecimal {
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, sql_types::PortableNumeric>()
    }
}

// ---------------------------------------------------------------------------------------------
// Byte strings

/// A byte string; JSON form: standard base64 with padding.
#[derive(Default, Debug, Clone, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Binary)]
pub struct Bytes(pub Vec<u8>);

impl ToSql<diesel::sql_types::Binary, Pg> for Bytes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <[u8] as ToSql<diesel::sql_types::Binary, Pg>>::to_sql(self.0.as_slice(), out)
    }
}

impl FromSql<diesel::sql_types::Binary, Pg> for Bytes {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <Vec<u8> as FromSql<diesel::sql_types::Binary, Pg>>::from_sql(value).map(Bytes)
    }
}

impl ToSql<diesel::sql_types::Binary, Sqlite> for Bytes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        <[u8] as ToSql<diesel::sql_types::Binary, Sqlite>>::to_sql(self.0.as_slice(), out)
    }
}

impl FromSql<diesel::sql_types::Binary, Sqlite> for Bytes {
    fn from_sql(value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        <Vec<u8> as FromSql<diesel::sql_types::Binary, Sqlite>>::from_sql(value).map(Bytes)
    }
}

impl ToSql<diesel::sql_types::Binary, MultiBackend> for Bytes {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        <[u8] as ToSql<diesel::sql_types::Binary, MultiBackend>>::to_sql(self.0.as_slice(), out)
    }
}

impl FromSql<diesel::sql_types::Binary, MultiBackend> for Bytes {
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        <Vec<u8> as FromSql<diesel::sql_types::Binary, MultiBackend>>::from_sql(bytes).map(Bytes)
    }
}

impl serde::Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Lists

/// The items of a list column (an item may be null in a PostgreSQL array written by someone
/// else); JSON form: a list of the items' JSON forms.
#[derive(Default, Debug, Clone, PartialEq, FromSqlRow, serde::Serialize)]
#[serde(transparent)]
pub struct List<T>(pub Vec<Option<T>>);

impl<T, ST: 'static> FromSql<sql_types::PortableArray<ST>, Pg> for List<T>
where
    Option<T>: FromSql<diesel::sql_types::Nullable<ST>, Pg>,
{
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <Vec<Option<T>> as FromSql<
            diesel::sql_types::Array<diesel::sql_types::Nullable<ST>>,
            Pg,
        >>::from_sql(value)
        .map(List)
    }
}

impl<T, ST: 'static> FromSql<sql_types::PortableArray<ST>, Sqlite> for List<T>
where
    T: serde::de::DeserializeOwned,
{
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(List(serde_json::from_str(value.read_text())?))
    }
}

impl<T, ST: 'static> FromSql<sql_types::PortableArray<ST>, MultiBackend> for List<T>
where
    List<T>:
        FromSql<sql_types::PortableArray<ST>, Pg> + FromSql<sql_types::PortableArray<ST>, Sqlite>,
{
    fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, sql_types::PortableArray<ST>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut gives the digits correct rounding gives, for decimals of up to 15 digits
    /// (which take it) and for doubles of every kind (which may not).
    #[test]
    fn fifteen_significant_digits_round_as_the_exact_formatting_does() {
        let same = |value: f64| {
            let quick = DecimalDigits::parse(&fifteen_significant_digits(value)).unwrap();
            let exact = DecimalDigits::parse(&format!("{value:.14e}")).unwrap();
            assert_eq!(quick.to_scale(24), exact.to_scale(24), "{value:e}");
        };
        for text in [
            "0.1",
            "0.000001",
            "500.5",
            "-3.333333",
            "123456789012.345",
            "999999999999999",
        ] {
            same(text.parse().unwrap());
        }
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Decimals of 1 to 15 digits at scales 0 to 8, and arbitrary doubles of the same
            // magnitudes (sums, averages).
            let digits = (state % 1_000_000_000_000_000) as f64;
            let scale = (state >> 56) % 9;
            same(digits / 10f64.powi(scale as i32));
            same(f64::from_bits(0x3FF0_0000_0000_0000 | (state >> 12)) * (state % 100_000) as f64);
        }
        assert_eq!(fifteen_significant_digits(f64::NAN), "NaN");
    }

    /// The hand-written form is chrono's, for whole seconds, every fraction width, the years
    /// it writes and those it leaves to chrono.
    #[test]
    fn instants_serialize_as_chrono_writes_them() {
        use chrono::TimeZone as _;
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut instants = vec![
            chrono::Utc.timestamp_opt(0, 0).unwrap(),
            chrono::Utc
                .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .unwrap(),
            chrono::Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc
                .timestamp_opt(1_719_835_199, 1_500_000_000)
                .unwrap(),
        ];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let seconds = (state % 400_000_000_000) as i64 - 62_000_000_000;
            let nanos = match state >> 60 {
                0..=3 => 0,
                4..=7 => ((state >> 20) % 1000) as u32 * 1_000_000,
                8..=11 => ((state >> 20) % 1_000_000) as u32 * 1_000,
                _ => ((state >> 20) % 1_000_000_000) as u32,
            };
            if let Some(instant) = chrono::Utc.timestamp_opt(seconds, nanos).single() {
                instants.push(instant);
            }
        }
        for instant in instants {
            assert_eq!(
                serde_json::to_string(&Timestamptz(instant)).unwrap(),
                serde_json::to_string(&instant).unwrap()
            );
        }
    }
}
