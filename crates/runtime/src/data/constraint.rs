//! Database constraint violations explained as DRF field errors, never as SQL text.
//!
//! PostgreSQL names the columns in a violation's detail (`Key (name)=(x) already exists.`);
//! SQLite names them in the message for unique and not-null violations, and not at all for
//! foreign keys, so those are found by looking the referenced rows up.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use serde_json::{Map, Value};

use crate::connections::db::DbConnection;
use crate::data::field_errors::FieldErrors;
use crate::data::meta::TableMeta;
use crate::data::write_error::{ExplainedWriteError, WriteError};
use tenantapi_schema::sql::quote_identifier;

/// Which write failed: deletes break foreign keys from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Insert,
    Update,
    Delete,
}

/// Explains a failed write as the client should learn it: a broken constraint by field.
pub fn explain_write_error(
    meta: &TableMeta,
    connection: &mut DbConnection,
    body: &Map<String, Value>,
    kind: WriteKind,
    error: WriteError,
) -> ExplainedWriteError {
    match error {
        WriteError::Serialize(error) => ExplainedWriteError::Internal {
            context: "written row serialization",
            cause: error.to_string(),
        },
        WriteError::Lost(reason) | WriteError::RowByRow(reason) => ExplainedWriteError::Internal {
            context: "write",
            cause: reason,
        },
        WriteError::PreconditionFailed => ExplainedWriteError::PreconditionFailed,
        WriteError::Database(DieselError::DatabaseError(error_kind, info)) => {
            // SQLite reports a RESTRICT action's failure without the extended code that
            // diesel maps to ForeignKeyViolation; the message is the same.
            let error_kind = match error_kind {
                DatabaseErrorKind::Unknown
                    if info.message().starts_with("FOREIGN KEY constraint failed") =>
                {
                    DatabaseErrorKind::ForeignKeyViolation
                }
                other => other,
            };
            explain_violation(meta, connection, body, kind, error_kind, info.as_ref()).map_or_else(
                || ExplainedWriteError::Database(DieselError::DatabaseError(error_kind, info)),
                ExplainedWriteError::Invalid,
            )
        }
        WriteError::Database(other) => ExplainedWriteError::Database(other),
    }
}

fn explain_violation(
    meta: &TableMeta,
    connection: &mut DbConnection,
    body: &Map<String, Value>,
    kind: WriteKind,
    error_kind: DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
) -> Option<FieldErrors> {
    let errors = match error_kind {
        DatabaseErrorKind::UniqueViolation => {
            let columns = key_columns(info)
                .or_else(|| sqlite_columns(info.message(), "UNIQUE constraint failed: "));
            match columns.as_deref() {
                Some([column]) => FieldErrors::single(
                    column.clone(),
                    format!(
                        "{} with this {} already exists.",
                        meta.verbose_name,
                        column.replace('_', " ")
                    ),
                ),
                Some(columns) if !columns.is_empty() => FieldErrors::single(
                    "non_field_errors",
                    format!("The fields {} must make a unique set.", columns.join(", ")),
                ),
                _ => FieldErrors::single(
                    "non_field_errors",
                    format!("A {} with these values already exists.", meta.verbose_name),
                ),
            }
        }
        DatabaseErrorKind::ForeignKeyViolation if kind == WriteKind::Delete => {
            let referencing = info
                .details()
                .and_then(|details| quoted_after(details, "referenced from table "));
            let message = match referencing {
                Some(table) => format!(
                    "This {} cannot be deleted: rows of {table} still reference it.",
                    meta.verbose_name
                ),
                None => format!(
                    "This {} cannot be deleted: other rows still reference it.",
                    meta.verbose_name
                ),
            };
            FieldErrors::single("non_field_errors", message)
        }
        DatabaseErrorKind::ForeignKeyViolation => {
            let mut errors = FieldErrors::new();
            if let (Some(columns), Some(values)) = (key_columns(info), key_values(info)) {
                for (column, value) in columns.iter().zip(values) {
                    errors.add(
                        column.clone(),
                        format!("Invalid pk \"{value}\" - object does not exist."),
                    );
                }
            } else {
                for (column, value) in missing_references(meta, connection, body) {
                    errors.add(
                        column,
                        format!("Invalid pk \"{value}\" - object does not exist."),
                    );
                }
            }
            if errors.is_empty() {
                errors.add("non_field_errors", "A referenced object does not exist.");
            }
            errors
        }
        // A referencing row's `ON DELETE SET NULL` (or `SET DEFAULT` without a default) meets a
        // column that may not be null: the database refuses the delete.
        DatabaseErrorKind::NotNullViolation if kind == WriteKind::Delete => {
            let referencing = info.table_name().map(str::to_string).or_else(|| {
                // SQLite: "NOT NULL constraint failed: payment.rental_id".
                let column = info
                    .message()
                    .strip_prefix("NOT NULL constraint failed: ")?;
                Some(column.split_once('.')?.0.to_string())
            });
            let message = match referencing {
                Some(table) => format!(
                    "This {} cannot be deleted: rows of {table} reference it through a column that may not be null.",
                    meta.verbose_name
                ),
                None => format!(
                    "This {} cannot be deleted: other rows reference it through a column that may not be null.",
                    meta.verbose_name
                ),
            };
            FieldErrors::single("non_field_errors", message)
        }
        DatabaseErrorKind::NotNullViolation => {
            let column = info.column_name().map(str::to_string).or_else(|| {
                sqlite_columns(info.message(), "NOT NULL constraint failed: ")
                    .and_then(|c| c.into_iter().next())
            });
            match column {
                Some(column) => FieldErrors::single(column, "This field may not be null."),
                None => FieldErrors::single("non_field_errors", "A required value is missing."),
            }
        }
        DatabaseErrorKind::CheckViolation => {
            let check = info
                .constraint_name()
                .map(str::to_string)
                .or_else(|| sqlite_check(info.message()));
            let message = match &check {
                Some(name) => format!("This value violates the database check \"{name}\"."),
                None => "This value violates a database check.".to_string(),
            };
            let columns = check_columns(meta, body, info);
            if columns.is_empty() {
                FieldErrors::single(
                    "non_field_errors",
                    message.replace("This value violates", "The values violate"),
                )
            } else {
                let mut errors = FieldErrors::new();
                for column in columns {
                    errors.add(column, message.clone());
                }
                errors
            }
        }
        _ => return None,
    };
    Some(errors)
}

/// The columns a CHECK violation is about, when they can be told: the written columns of the
/// violated domain (PostgreSQL: `value for domain year violates check constraint ...`), the
/// column of PostgreSQL's default check name (`film_length_check`), or the one column named in
/// SQLite's `CHECK constraint failed: length > 0`.
fn check_columns(
    meta: &TableMeta,
    body: &Map<String, Value>,
    info: &dyn DatabaseErrorInformation,
) -> Vec<&'static str> {
    let message = info.message();
    if let Some(domain) = message
        .strip_prefix("value for domain ")
        .and_then(|rest| rest.split(' ').next())
    {
        let domain = domain.trim_matches('"');
        return meta
            .columns
            .iter()
            .filter(|column| {
                column
                    .domain
                    .is_some_and(|name| name == domain || domain.ends_with(&format!(".{name}")))
                    && body.contains_key(column.name)
            })
            .map(|column| column.name)
            .collect();
    }
    if let Some(name) = info.constraint_name() {
        return meta
            .columns
            .iter()
            .filter(|column| name == format!("{}_{}_check", meta.name, column.name))
            .map(|column| column.name)
            .collect();
    }
    if let Some(expression) = sqlite_check(message) {
        let words: Vec<&str> = expression
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .collect();
        let named: Vec<&'static str> = meta
            .columns
            .iter()
            .filter(|column| words.contains(&column.name))
            .map(|column| column.name)
            .collect();
        if named.len() == 1 {
            return named;
        }
    }
    Vec::new()
}

/// The check of SQLite's `CHECK constraint failed: <name or expression>`.
fn sqlite_check(message: &str) -> Option<String> {
    message
        .strip_prefix("CHECK constraint failed: ")
        .map(|check| check.trim().to_string())
}

/// Columns of PostgreSQL's `Key (a, b)=(1, 2) ...` detail.
fn key_columns(info: &dyn DatabaseErrorInformation) -> Option<Vec<String>> {
    let details = info.details()?;
    let inner = details.strip_prefix("Key (")?.split(")=(").next()?;
    Some(
        inner
            .split(", ")
            .map(|column| column.trim_matches('"').to_string())
            .collect(),
    )
}

/// Values of PostgreSQL's `Key (a, b)=(1, 2) ...` detail.
fn key_values(info: &dyn DatabaseErrorInformation) -> Option<Vec<String>> {
    let details = info.details()?;
    let (_, rest) = details.split_once(")=(")?;
    let end = rest.rfind(") ")?;
    Some(rest[..end].split(", ").map(str::to_string).collect())
}

/// Columns of SQLite's `UNIQUE constraint failed: t.a, t.b`.
fn sqlite_columns(message: &str, prefix: &str) -> Option<Vec<String>> {
    let list = message.strip_prefix(prefix)?;
    Some(
        list.split(", ")
            .map(|qualified| {
                qualified
                    .rsplit_once('.')
                    .map_or(qualified, |(_, column)| column)
                    .to_string()
            })
            .collect(),
    )
}

fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// Foreign key values in `body` whose referenced row does not exist (SQLite only needs this).
fn missing_references(
    meta: &TableMeta,
    connection: &mut DbConnection,
    body: &Map<String, Value>,
) -> Vec<(String, String)> {
    use diesel::RunQueryDsl as _;

    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    let DbConnection::Sqlite(sqlite) = connection else {
        return Vec::new();
    };
    let mut missing = Vec::new();
    for foreign_key in meta.foreign_keys {
        let column = meta.columns[foreign_key.column].name;
        let Some(value) = body.get(column).filter(|value| !value.is_null()) else {
            continue;
        };
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let query = format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {} = ?",
            quote_identifier(foreign_key.references_table),
            quote_identifier(foreign_key.references_column)
        );
        // Column affinity converts the text operand, so one text bind fits every key type.
        let found = diesel::sql_query(query)
            .bind::<diesel::sql_types::Text, _>(&text)
            .get_result::<Found>(sqlite);
        if matches!(found, Ok(Found { n: 0 })) {
            missing.push((column.to_string(), text));
        }
    }
    missing
}
