//! A write in one transaction that first checks, with a lock, that the database records the
//! served structure version: the path of every write that cannot be one guarded statement
//! (`guarded.rs`): `If-Match`, key changes, upserts, bulk writes, SQLite, PgBouncer in
//! transaction mode.

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;

use crate::connections::Unavailable;
use crate::connections::db::DbConnection;
use crate::connections::version::StructureVersion;
use crate::data::write_error::WriteError;

/// Why a guarded write did not happen.
pub enum GuardedWriteError {
    /// The database no longer records the served structure version (or it could not be
    /// checked): nothing was written.
    Refused(Unavailable),
    Failed(WriteError),
}

impl From<diesel::result::Error> for GuardedWriteError {
    fn from(error: diesel::result::Error) -> Self {
        GuardedWriteError::Failed(WriteError::Database(error))
    }
}

/// Runs a write in one transaction with a check that the database records the served
/// structure version, so that no write lands in a database whose structure changed since
/// this server last looked. On PostgreSQL the version row is locked `FOR SHARE` until the
/// write commits, so a migration that changes it waits for the write (or the write sees the
/// new version and is refused). On SQLite the transaction is `BEGIN IMMEDIATE`: it holds the
/// database's write lock from the version check to the commit, and it also keeps concurrent
/// writers from failing with "database is locked" when a read would have to become a write.
pub fn write_transaction<T>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    write: impl FnOnce(&mut DbConnection) -> Result<T, WriteError>,
) -> Result<T, GuardedWriteError> {
    let checked_write = |connection: &mut DbConnection| {
        version
            .verify_for_write(connection)
            .map_err(GuardedWriteError::Refused)?;
        write(connection).map_err(GuardedWriteError::Failed)
    };
    match connection {
        DbConnection::Pg(_) => connection.transaction(checked_write),
        DbConnection::Sqlite(_) => {
            // diesel's transaction manager only issues a deferred BEGIN; nothing inside
            // `write` opens a transaction of its own, so managing this one by hand is safe.
            if let Err(error) = connection.batch_execute("BEGIN IMMEDIATE") {
                return Err(match error {
                    // Another writer kept the lock past the busy timeout: try again later.
                    diesel::result::Error::DatabaseError(_, ref info)
                        if info.message().contains("locked") || info.message().contains("busy") =>
                    {
                        GuardedWriteError::Refused(Unavailable::Busy)
                    }
                    other => other.into(),
                });
            }
            let mut transaction = SqliteWriteTransaction {
                connection,
                finished: false,
            };
            let value = checked_write(transaction.connection)?;
            transaction.connection.batch_execute("COMMIT")?;
            transaction.finished = true;
            Ok(value)
        }
    }
}

/// A hand-opened SQLite transaction that is rolled back unless it was committed, whatever
/// ends it (an error, a failed COMMIT, a panic), so that no pooled connection goes back to
/// its pool holding the database's write lock.
struct SqliteWriteTransaction<'a> {
    connection: &'a mut DbConnection,
    finished: bool,
}

impl Drop for SqliteWriteTransaction<'_> {
    fn drop(&mut self) {
        if !self.finished
            && let Err(error) = self.connection.batch_execute("ROLLBACK")
        {
            tracing::error!("rolling back an unfinished SQLite write failed: {error}");
        }
    }
}
