//! What a SQLite column really holds, read by its storage class, and the checked conversions
//! to the API's value types: a value is served as stored or refused, never changed.
//!
//! SQLite lets any column hold any storage class whatever its declared type, and databases
//! written by other applications do: booleans as `'t'`, timestamps as `2006-02-14` or Unix
//! seconds, numbers as text. diesel's own SQLite reads call `sqlite3_value_int` and friends,
//! which turn text such as `'t'` into `0` without a word; the readers here look at
//! `value_type()` first. PostgreSQL enforces column types itself and keeps diesel's readers.
//!
//! What each stored form becomes in JSON (docs/description-format.md, "What a SQLite database
//! written by another application holds" says the same; decimals and text are read in
//! `values.rs`, with these refusals):
//! - integers: INTEGER in range; REAL with no fraction; TEXT holding a whole decimal number.
//! - booleans: `0`/`1` (INTEGER or REAL), and TEXT `t`/`f`/`true`/`false`/`1`/`0` in any case.
//! - floats: REAL; INTEGER exactly representable; TEXT holding a finite decimal number.
//! - dates and times: the text forms SQLite's date functions accept (`parse_time_text`), and
//!   for date, timestamp and timestamptz also INTEGER or REAL Unix seconds (not Julian days:
//!   applications store Unix times). An offset (`Z`, `+02:00`) in a column without time zone is
//!   converted to UTC, as the API itself stores an aware value sent for such a column: the
//!   stored text names an instant, dropping the offset would serve another one, and keeping it
//!   would give the field two JSON forms. A date alone in a timestamp column is its midnight.
//!   A date column takes a date, or a date and time at exactly midnight (UTC); a time column
//!   takes a time of day alone. What would lose part of the stored value (a timestamp in a
//!   date or time column, fraction digits past nanoseconds that are not zeros) is refused.
//! - decimals: INTEGER, REAL to 15 significant digits, TEXT as written; digits past the
//!   column's scale that are not zeros are refused.
//! - text: TEXT, numbers as SQLite writes them, a BLOB holding UTF-8; other bytes refused.
//!
//! Anything else is an [`UnreadableValue`]; [`explain_read_error`] turns it into an error that
//! names the table, the row's key, the column and the value, which the request logs and
//! answers as an internal error (500).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use diesel::sqlite::{SqliteType, SqliteValue};

use crate::connections::db::DbConnection;
use crate::data::meta::TableMeta;
use crate::data::sql::positional::PositionalFieldError;

/// A non-null SQLite value by its storage class, borrowed from the statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored<'a> {
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> Stored<'a> {
    /// Reads a value in its own storage class, so that nothing is converted on the way.
    pub fn read(value: &'a mut SqliteValue<'_, '_, '_>) -> Stored<'a> {
        match value.value_type() {
            Some(SqliteType::Long | SqliteType::Integer | SqliteType::SmallInt) => {
                Stored::Integer(value.read_long())
            }
            Some(SqliteType::Double | SqliteType::Float) => Stored::Real(value.read_double()),
            Some(SqliteType::Binary) => Stored::Blob(value.read_blob()),
            // Text (SQL NULL never reaches a reader: diesel answers `None` for it first).
            _ => Stored::Text(value.read_text()),
        }
    }

    /// The refusal of this value for a column whose type is described by `expected`.
    pub fn refused(self, expected: &'static str) -> UnreadableValue {
        UnreadableValue {
            stored: match self {
                Stored::Integer(value) => StoredValue::Integer(value),
                Stored::Real(value) => StoredValue::Real(value),
                Stored::Text(text) => StoredValue::Text(text.to_string()),
                Stored::Blob(bytes) => StoredValue::Blob(bytes.to_vec()),
            },
            expected,
        }
    }
}

/// An owned copy of a refused value, to log and to find its row by.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// How much of a long refused value a log line shows.
const SHOWN_CHARACTERS: usize = 200;

impl std::fmt::Display for StoredValue {
    /// As an SQL literal (SQLite's `quote()`), so that the storage class shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredValue::Integer(value) => write!(f, "integer {value}"),
            StoredValue::Real(value) => write!(f, "real {value:?}"),
            StoredValue::Text(text) => {
                let shown: String = text.chars().take(SHOWN_CHARACTERS).collect();
                let more = if shown.len() < text.len() { "..." } else { "" };
                write!(f, "text '{}'{more}", shown.replace('\'', "''"))
            }
            StoredValue::Blob(bytes) => {
                let shown: String = bytes
                    .iter()
                    .take(SHOWN_CHARACTERS / 2)
                    .map(|byte| format!("{byte:02X}"))
                    .collect();
                let more = if bytes.len() > SHOWN_CHARACTERS / 2 {
                    "..."
                } else {
                    ""
                };
                write!(f, "blob X'{shown}'{more} ({} bytes)", bytes.len())
            }
        }
    }
}

/// A stored value the column's declared type cannot represent without changing it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableValue {
    pub stored: StoredValue,
    /// What the column's type takes, in words (`"a boolean"`).
    pub expected: &'static str,
}

impl std::fmt::Display for UnreadableValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not {}", self.stored, self.expected)
    }
}

impl std::error::Error for UnreadableValue {}

/// A whole number of an integer column of type `T`.
pub fn integer<T: TryFrom<i64>>(
    stored: Stored<'_>,
    expected: &'static str,
) -> Result<T, UnreadableValue> {
    let whole = match stored {
        Stored::Integer(value) => Some(value),
        Stored::Real(value) => whole_number(value),
        Stored::Text(text) => text.trim().parse::<i64>().ok(),
        Stored::Blob(_) => None,
    };
    whole
        .and_then(|value| T::try_from(value).ok())
        .ok_or_else(|| stored.refused(expected))
}

/// `value` as an `i64` when it has no fraction and fits.
fn whole_number(value: f64) -> Option<i64> {
    // 2^63 as f64 is exact; anything at or past it does not fit.
    let fits = value.is_finite() && value.fract() == 0.0 && value.abs() < 9.223_372_036_854_776e18;
    fits.then_some(value as i64)
}

/// A boolean: 0 and 1, or the words applications write (`t`, `f`, `true`, `false`).
/// Other numbers are refused, not read as C would: the API's filters compare with 0 and 1,
/// so a 2 served as `true` would be missing from `?flag=true`.
pub fn boolean(stored: Stored<'_>) -> Result<bool, UnreadableValue> {
    let read = match stored {
        Stored::Integer(0) => Some(false),
        Stored::Integer(1) => Some(true),
        Stored::Real(0.0) => Some(false),
        Stored::Real(1.0) => Some(true),
        Stored::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "1" => Some(true),
            "f" | "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    read.ok_or_else(|| stored.refused("a boolean"))
}

/// A floating-point number; an integer only if the double holds it exactly.
pub fn double(stored: Stored<'_>) -> Result<f64, UnreadableValue> {
    let read = match stored {
        Stored::Real(value) => Some(value),
        Stored::Integer(value) => {
            let double = value as f64;
            (double as i64 == value && double.abs() < 9.223_372_036_854_776e18).then_some(double)
        }
        // JSON has no NaN or infinity: refused rather than served as null.
        Stored::Text(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite()),
        Stored::Blob(_) => None,
    };
    read.ok_or_else(|| stored.refused("a number"))
}

/// A date: its text, a date and time at midnight, or Unix seconds at midnight UTC.
pub fn date(stored: Stored<'_>) -> Result<NaiveDate, UnreadableValue> {
    let read = match stored {
        Stored::Text(text) => parse_time_text(text).and_then(|parsed| match parsed {
            TimeText::Date(date) => Some(date),
            TimeText::DateTime(instant) => {
                (instant.time() == NaiveTime::MIN).then_some(instant.date())
            }
            TimeText::Time(_) => None,
        }),
        Stored::Integer(_) | Stored::Real(_) => unix_time(stored)
            .filter(|instant| instant.time() == NaiveTime::MIN)
            .map(|instant| instant.date()),
        Stored::Blob(_) => None,
    };
    read.ok_or_else(|| stored.refused("a date"))
}

/// A time of day, its offset (if any) converted to UTC.
pub fn time(stored: Stored<'_>) -> Result<NaiveTime, UnreadableValue> {
    let read = match stored {
        Stored::Text(text) => match parse_time_text(text) {
            Some(TimeText::Time(time)) => Some(time),
            _ => None,
        },
        _ => None,
    };
    read.ok_or_else(|| stored.refused("a time"))
}

/// A date and time as UTC wall time: a date alone is its midnight, an offset is converted,
/// numbers are Unix seconds.
pub fn timestamp(stored: Stored<'_>) -> Result<NaiveDateTime, UnreadableValue> {
    let read = match stored {
        Stored::Text(text) => match parse_time_text(text) {
            Some(TimeText::Date(date)) => Some(date.and_time(NaiveTime::MIN)),
            Some(TimeText::DateTime(instant)) => Some(instant),
            Some(TimeText::Time(_)) | None => None,
        },
        Stored::Integer(_) | Stored::Real(_) => unix_time(stored),
        Stored::Blob(_) => None,
    };
    read.ok_or_else(|| stored.refused("a date and time"))
}

/// Unix seconds (INTEGER, or REAL to the microsecond) within years 1 to 9999.
fn unix_time(stored: Stored<'_>) -> Option<NaiveDateTime> {
    let instant = match stored {
        Stored::Integer(seconds) => chrono::DateTime::from_timestamp(seconds, 0)?,
        Stored::Real(seconds) if seconds.is_finite() && seconds.abs() < 1e12 => {
            chrono::DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)?
        }
        _ => return None,
    };
    let instant = instant.naive_utc();
    (1..=9999)
        .contains(&chrono::Datelike::year(&instant))
        .then_some(instant)
}

/// What a text form of SQLite's date functions holds, offsets already converted to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeText {
    Date(NaiveDate),
    Time(NaiveTime),
    DateTime(NaiveDateTime),
}

/// Reads the text forms SQLite's date and time functions accept: `YYYY-MM-DD`, optionally
/// followed by a space or `T` and a time; a time alone. A time is `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.F` with any number of fraction digits (those past nanoseconds must be zeros),
/// followed by an optional `Z` or `±HH:MM` (or `±HHMM`, `±HH`; spaces allowed before it, as
/// SQLite allows).
/// Surrounding spaces are ignored. Numbers as text are not times (SQLite would read them as
/// Julian days; no application we know stores those as text).
pub fn parse_time_text(text: &str) -> Option<TimeText> {
    let mut cursor = Cursor(text.trim().as_bytes());
    if cursor.0.len() >= 10 && cursor.0.get(4) == Some(&b'-') {
        let year = cursor.number(4)?;
        cursor.expect(b'-')?;
        let month = cursor.number(2)?;
        cursor.expect(b'-')?;
        let day = cursor.number(2)?;
        let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
        if cursor.0.is_empty() {
            return Some(TimeText::Date(date));
        }
        match cursor.0[0] {
            b' ' | b'T' | b't' => cursor.0 = &cursor.0[1..],
            _ => return None,
        }
        let (time, offset) = time_of_day(&mut cursor)?;
        return Some(TimeText::DateTime(date.and_time(time) - offset));
    }
    let (time, offset) = time_of_day(&mut cursor)?;
    Some(TimeText::Time(time.overflowing_sub_signed(offset).0))
}

/// `HH:MM[:SS[.F]][ ][Z|±HH:MM]` to the end of the text, with its offset from UTC.
fn time_of_day(cursor: &mut Cursor<'_>) -> Option<(NaiveTime, TimeDelta)> {
    let hour = cursor.number(2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2)?;
    let mut second = 0;
    let mut nanosecond = 0;
    if cursor.0.first() == Some(&b':') {
        cursor.expect(b':')?;
        second = cursor.number(2)?;
        if cursor.0.first() == Some(&b'.') {
            cursor.expect(b'.')?;
            let digits = cursor.digits();
            if digits.is_empty() || digits.iter().skip(9).any(|digit| *digit != b'0') {
                return None;
            }
            for position in 0..9 {
                let digit = digits
                    .get(position)
                    .map_or(0, |digit| u32::from(digit - b'0'));
                nanosecond = nanosecond * 10 + digit;
            }
        }
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanosecond)?;
    while cursor.0.first() == Some(&b' ') {
        cursor.0 = &cursor.0[1..];
    }
    let offset = match cursor.0.first() {
        None => TimeDelta::zero(),
        Some(b'Z' | b'z') => {
            cursor.0 = &cursor.0[1..];
            TimeDelta::zero()
        }
        Some(sign @ (b'+' | b'-')) => {
            let sign = if *sign == b'-' { -1 } else { 1 };
            cursor.0 = &cursor.0[1..];
            // SQLite's own form is `±HH:MM`; `±HHMM` and `±HH` (ISO 8601's others, which
            // this reader took before) are as unambiguous.
            let hours = cursor.number(2)?;
            let minutes = match cursor.0.first() {
                None => 0,
                Some(b':') => {
                    cursor.expect(b':')?;
                    cursor.number(2)?
                }
                Some(_) => cursor.number(2)?,
            };
            if hours > 14 || minutes > 59 {
                return None;
            }
            TimeDelta::minutes(sign * i64::from(hours * 60 + minutes))
        }
        Some(_) => return None,
    };
    cursor.0.is_empty().then_some((time, offset))
}

/// The unread rest of a text being parsed.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    /// Exactly `count` ASCII digits as a number.
    fn number(&mut self, count: usize) -> Option<u32> {
        let digits = self.0.get(..count)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[count..];
        Some(
            digits
                .iter()
                .fold(0, |number, digit| number * 10 + u32::from(digit - b'0')),
        )
    }

    /// All ASCII digits that follow.
    fn digits(&mut self) -> &[u8] {
        let count = self
            .0
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let (digits, rest) = self.0.split_at(count);
        self.0 = rest;
        digits
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        let (first, rest) = self.0.split_first()?;
        (*first == byte).then(|| self.0 = rest)
    }
}

/// A read that failed on a value, with where it is: the table, the column and the keys of the
/// rows holding it (the log's whole story; the client is told only that the server failed).
#[derive(Debug)]
pub struct UnreadableRow {
    pub table: &'static str,
    pub column: String,
    /// The keys (JSON arrays of the primary key's values) of the first rows holding the value;
    /// `None` when they could not be found.
    pub keys: Option<Vec<String>>,
    pub cause: String,
}

impl std::fmt::Display for UnreadableRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = match self.keys.as_deref() {
            Some([key]) => format!("row with key {key}"),
            Some(keys) if !keys.is_empty() => format!("rows with keys {}", keys.join(", ")),
            _ => "row with unknown key".into(),
        };
        write!(
            f,
            "unreadable value in table \"{}\", {rows}, column \"{}\": {}",
            self.table, self.column, self.cause
        )
    }
}

impl std::error::Error for UnreadableRow {}

/// How many rows holding a refused value the log names.
const NAMED_ROWS: i64 = 3;

/// Turns a read's failure to deserialize a value of `meta`'s table into one that names the
/// table, the column, the value and the keys of the rows holding it (one statement, run only
/// on this failure path). Other errors are returned as they are.
pub fn explain_read_error(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    error: diesel::result::Error,
) -> diesel::result::Error {
    let diesel::result::Error::DeserializationError(cause) = &error else {
        return error;
    };
    // A typed read names the field by diesel's error, a read by position by its own.
    let (column, field_error) =
        if let Some(field) = cause.downcast_ref::<diesel::result::DeserializeFieldError>() {
            (
                field.field_name.clone().unwrap_or_else(|| "?".into()),
                &field.error,
            )
        } else if let Some(field) = cause.downcast_ref::<PositionalFieldError>() {
            (field.column.to_string(), &field.error)
        } else {
            return error;
        };
    let keys = match (
        field_error.downcast_ref::<UnreadableValue>(),
        &mut *connection,
    ) {
        (Some(unreadable), DbConnection::Sqlite(sqlite)) => {
            keys_holding(sqlite, meta, &column, &unreadable.stored)
        }
        _ => None,
    };
    diesel::result::Error::DeserializationError(Box::new(UnreadableRow {
        table: meta.name,
        column,
        keys,
        cause: field_error.to_string(),
    }))
}

/// The keys of the first rows whose `column` holds exactly `stored` (same storage class).
fn keys_holding(
    sqlite: &mut diesel::SqliteConnection,
    meta: &'static TableMeta,
    column: &str,
    stored: &StoredValue,
) -> Option<Vec<String>> {
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::{BigInt, Binary, Double, Text};
    use tenantapi_schema::sql::quote_identifier;

    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        key: String,
    }

    // Only names from the generated metadata become SQL text.
    let column = meta
        .columns
        .iter()
        .find(|candidate| candidate.name == column)?;
    if meta.primary_key.is_empty() {
        return None;
    }
    let key_columns: Vec<String> = meta
        .primary_key
        .iter()
        .map(|index| quote_identifier(meta.columns[*index].name))
        .collect();
    let sql = format!(
        "SELECT json_array({keys}) AS key FROM {table} WHERE typeof({column}) = ? AND {column} IS ? ORDER BY {keys} LIMIT {NAMED_ROWS}",
        keys = key_columns.join(", "),
        table = quote_identifier(meta.name),
        column = quote_identifier(column.name),
    );
    let query = diesel::sql_query(sql);
    let found = match stored {
        StoredValue::Integer(value) => query
            .bind::<Text, _>("integer")
            .bind::<BigInt, _>(*value)
            .load::<Key>(sqlite),
        StoredValue::Real(value) => query
            .bind::<Text, _>("real")
            .bind::<Double, _>(*value)
            .load::<Key>(sqlite),
        StoredValue::Text(value) => query
            .bind::<Text, _>("text")
            .bind::<Text, _>(value)
            .load::<Key>(sqlite),
        StoredValue::Blob(value) => query
            .bind::<Text, _>("blob")
            .bind::<Binary, _>(value)
            .load::<Key>(sqlite),
    };
    match found {
        Ok(keys) => Some(keys.into_iter().map(|found| found.key).collect()),
        Err(error) => {
            tracing::warn!("the rows holding an unreadable value could not be found: {error}");
            None
        }
    }
}

#[cfg(test)]
mod tests;
