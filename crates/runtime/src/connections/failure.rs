//! What a failed database call means, decided once for every layer above: a passing state
//! (`Unavailable`), a query for one row that found none, a stored value its column's type
//! cannot represent, or something no one expected.

use diesel::result::{DatabaseErrorKind, Error};

use crate::connections::unavailable::Unavailable;
use crate::connections::watch;

/// A diesel error, classified.
#[derive(Debug)]
pub enum DatabaseFailure {
    /// A query for exactly one row found none.
    NoRow,
    Unavailable(Unavailable),
    /// A stored value the column's declared type cannot represent (a SQLite column holding
    /// `'t'` where a smallint is described; `data::stored::UnreadableRow` names the table, the
    /// row's key, the column and the value): not the client's mistake, not a passing state.
    Unreadable(Error),
    /// Anything else: a bug, or a failure nobody planned for.
    Unexpected(Error),
}

/// SQLite's words for a lock it could not have within its busy timeout (`SQLITE_BUSY`,
/// `SQLITE_LOCKED`); PostgreSQL never uses them.
fn is_sqlite_lock_message(message: &str) -> bool {
    matches!(
        message,
        "database is locked" | "database table is locked" | "database schema is locked"
    ) || message.starts_with("database table is locked: ")
}

/// PostgreSQL's (`column "x" does not exist`, `relation "x" does not exist`, SQLSTATE 42703 and
/// 42P01, which diesel does not expose) and SQLite's (`no such column: x`, `no such table: x`)
/// words for a table or column the statement names and the database lacks.
fn names_a_missing_relation(message: &str) -> bool {
    message.starts_with("no such column: ")
        || message.starts_with("no such table: ")
        || ((message.starts_with("column ") || message.starts_with("relation "))
            && message.ends_with(" does not exist"))
}

/// Classifies `error`, logging what an operator should see (a lock held past the busy timeout,
/// an unpopulated view, a statement timeout); a lost connection is logged by the pool.
pub fn classify(error: Error) -> DatabaseFailure {
    let unavailable = DatabaseFailure::Unavailable;
    match error {
        Error::NotFound => DatabaseFailure::NoRow,
        // The database gave up on a transaction that may well succeed when retried.
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            unavailable(Unavailable::Busy)
        }
        Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
            if info.message().contains("deadlock detected") =>
        {
            unavailable(Unavailable::Busy)
        }
        // SQLite's lock held by another connection (another process, say) past the busy
        // timeout: a read or write that may well succeed when retried.
        Error::DatabaseError(_, ref info) if is_sqlite_lock_message(info.message()) => {
            tracing::warn!("{}", info.message());
            unavailable(Unavailable::Busy)
        }
        Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
            unavailable(Unavailable::ReadOnly)
        }
        Error::DatabaseError(_, ref info)
            if info
                .message()
                .contains("attempt to write a readonly database") =>
        {
            unavailable(Unavailable::ReadOnly)
        }
        Error::DatabaseError(_, ref info) if info.message().contains("has not been populated") => {
            tracing::warn!("{}", info.message());
            unavailable(Unavailable::NotPopulated(info.message().to_string()))
        }
        // Every table and column a statement names comes from the generated metadata: one the
        // database does not have means its structure changed under the same version.
        Error::DatabaseError(_, ref info) if names_a_missing_relation(info.message()) => {
            tracing::warn!(
                "the project database lacks what its structure version describes: {}",
                info.message()
            );
            unavailable(Unavailable::StructureDrift(info.message().to_string()))
        }
        ref timed_out if watch::is_statement_timeout(timed_out) => {
            tracing::warn!("statement cancelled by the statement timeout");
            unavailable(Unavailable::StatementTimeout)
        }
        ref lost if watch::is_connection_lost(lost) => unavailable(Unavailable::Unreachable),
        error @ Error::DeserializationError(_) => DatabaseFailure::Unreadable(error),
        other => DatabaseFailure::Unexpected(other),
    }
}

#[cfg(test)]
mod tests {
    use super::names_a_missing_relation;

    #[test]
    fn missing_tables_and_columns_are_told_from_other_failures() {
        for message in [
            "no such column: data_point.unit",
            "no such table: maintenance_window",
            "column data_point.unit does not exist",
            "column \"unit\" does not exist",
            "relation \"maintenance_window\" does not exist",
        ] {
            assert!(names_a_missing_relation(message), "{message}");
        }
        for message in [
            "database is locked",
            "duplicate key value violates unique constraint \"data_point_name_key\"",
            "function lower(integer) does not exist",
            "type \"mood\" does not exist",
        ] {
            assert!(!names_a_missing_relation(message), "{message}");
        }
    }
}
