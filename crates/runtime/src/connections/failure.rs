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
        ref timed_out if watch::is_statement_timeout(timed_out) => {
            tracing::warn!("statement cancelled by the statement timeout");
            unavailable(Unavailable::StatementTimeout)
        }
        ref lost if watch::is_connection_lost(lost) => unavailable(Unavailable::Unreachable),
        error @ Error::DeserializationError(_) => DatabaseFailure::Unreadable(error),
        other => DatabaseFailure::Unexpected(other),
    }
}
