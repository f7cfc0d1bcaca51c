//! Why a write did not happen: as it failed (`WriteError`), and as the client should learn it
//! once constraint violations are explained per field (`ExplainedWriteError`).

use crate::connections::watch;
use crate::data::field_errors::FieldErrors;

/// Why a generated insert or update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// A row read back from the database could not be turned into JSON: a bug in a value
    /// type's serialization, not a client error.
    #[error("the row could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A write's row could not be read back (a bug or a concurrent change of its key).
    #[error("the written row could not be read back: {0}")]
    Lost(String),
    /// Refused before it ran: an `If-Match` that no longer holds.
    #[error("the row changed since If-Match was read")]
    PreconditionFailed,
    /// A list written as one statement came back in a shape that cannot be paired with its
    /// bodies (two bodies met one row, or a row's conflict columns are not its body's): roll
    /// it back and write the list row by row.
    #[error("the list must be written row by row: {0}")]
    RowByRow(String),
}

impl WriteError {
    /// Whether writing the same list row by row could name one item as the cause: a
    /// constraint, a value the database refused, two bodies meeting one row. Timeouts,
    /// deadlocks, serialization failures and lost connections are no item's doing; row by row
    /// would only repeat them slower.
    pub fn an_item_may_explain(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            WriteError::RowByRow(_) => true,
            WriteError::Database(error @ Error::DatabaseError(kind, info)) => {
                !matches!(
                    kind,
                    DatabaseErrorKind::SerializationFailure
                        | DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand
                        | DatabaseErrorKind::ReadOnlyTransaction
                ) && !info.message().contains("deadlock detected")
                    && !watch::is_statement_timeout(error)
                    && !watch::is_connection_lost(error)
            }
            _ => false,
        }
    }
}

/// A failed write, explained: what the HTTP layer answers.
#[derive(Debug)]
pub enum ExplainedWriteError {
    /// A constraint the row broke, by field (400).
    Invalid(FieldErrors),
    /// `If-Match` no longer holds (412).
    PreconditionFailed,
    /// A database failure no field explains, classified by `connections::classify`.
    Database(diesel::result::Error),
    /// A bug: logged with its cause, answered generically.
    Internal {
        context: &'static str,
        cause: String,
    },
}
