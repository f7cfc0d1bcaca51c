//! The structure version a project database records, read and compared with the version the
//! generated code was built for.

use diesel::Connection as _;
use diesel::RunQueryDsl as _;
use diesel::connection::SimpleConnection as _;

use crate::connections::db::DbConnection;
use crate::http::error::{ApiError, WriteError};

/// The version this build serves and how to read it from a project database; registered once
/// as `web::Data<StructureVersion>` from the generated crate's constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructureVersion {
    pub expected: &'static str,
    /// A query yielding one row with a text column named `version`.
    pub select_sql: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("cannot read the structure version: {0}")]
    Unreadable(String),
    #[error("the structure version table holds no row")]
    NoRow,
    #[error("the structure version table holds {0} rows, expected one")]
    SeveralRows(usize),
}

#[derive(diesel::QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Runs `select_sql` (one row, a text column named `version`) and returns the version.
pub fn read_version(
    connection: &mut DbConnection,
    select_sql: &str,
    lock_for_write: bool,
) -> Result<String, VersionError> {
    let sql = match connection {
        DbConnection::Pg(_) if lock_for_write => format!("{select_sql} FOR SHARE"),
        _ => select_sql.to_string(),
    };
    let mut rows: Vec<VersionRow> = diesel::sql_query(sql)
        .load(connection)
        .map_err(|error| VersionError::Unreadable(error.to_string()))?;
    match rows.len() {
        0 => Err(VersionError::NoRow),
        1 => Ok(rows.remove(0).version),
        several => Err(VersionError::SeveralRows(several)),
    }
}

impl StructureVersion {
    /// Reads the recorded version. With `lock_for_write`, PostgreSQL locks the version row
    /// (`FOR SHARE`) until the surrounding transaction ends, so that a migration that changes
    /// the version waits for the write, or the write sees the new version.
    pub fn read(
        &self,
        connection: &mut DbConnection,
        lock_for_write: bool,
    ) -> Result<String, VersionError> {
        read_version(connection, self.select_sql, lock_for_write)
    }

    /// The 503 for a database that records `found`.
    pub fn mismatch_error(&self, found: &str) -> ApiError {
        ApiError::version_mismatch(found, self.expected)
    }

    /// Inside a write's transaction: refuses the write unless the database records exactly
    /// the expected version at this moment.
    pub fn verify_for_write(&self, connection: &mut DbConnection) -> Result<(), ApiError> {
        match self.read(connection, true) {
            Ok(found) if found == self.expected => Ok(()),
            Ok(found) => Err(self.mismatch_error(&found)),
            Err(error) => {
                tracing::warn!("refusing a write: {error}");
                Err(ApiError::version_unreadable())
            }
        }
    }
}

/// Why a guarded write did not happen.
pub enum GuardedWriteError {
    /// The database no longer records the served structure version, or the write's own
    /// precondition failed: nothing was written.
    Refused(ApiError),
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
        write(connection).map_err(|error| match error {
            WriteError::Refused(answer) => GuardedWriteError::Refused(answer),
            other => GuardedWriteError::Failed(other),
        })
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
                        GuardedWriteError::Refused(ApiError::project_busy())
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

/// Whether a write may run as one statement that checks the version (`write::guarded`, in a
/// transaction of its own): on PostgreSQL, outside any transaction. (Behind PgBouncer in
/// transaction mode the unit of work is a transaction already, where the statement's own would
/// be a savepoint: two more round trips.)
pub fn runs_guarded_statements(connection: &mut DbConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
    let DbConnection::Pg(postgres) = connection else {
        return false;
    };
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(postgres).transaction_depth(),
        Ok(None)
    )
}

/// Why a guarded statement wrote nothing: the database no longer records the served version
/// (503), a migration holds the version row (503, try again), or the guard holds and it is
/// `otherwise` (an update or delete whose row is not there: 404). Nothing here waits for a
/// migration.
pub fn explain_unwritten(
    connection: &mut DbConnection,
    version: &StructureVersion,
    otherwise: ApiError,
) -> ApiError {
    match version.read(connection, false) {
        Ok(found) if found != version.expected => return version.mismatch_error(&found),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!("refusing a write: {error}");
            return ApiError::version_unreadable();
        }
    }
    #[derive(diesel::QueryableByName)]
    struct Holds {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        holds: bool,
    }
    let check = format!(
        "SELECT count(*) = 1 AS holds FROM ({} FOR SHARE SKIP LOCKED) AS guard",
        version.select_sql
    );
    match diesel::sql_query(check).get_result::<Holds>(connection) {
        Ok(Holds { holds: true }) => otherwise,
        Ok(Holds { holds: false }) => ApiError::version_changing(),
        Err(error) => {
            tracing::warn!("refusing a write: {error}");
            ApiError::version_unreadable()
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

/// Runs a read of several statements (a page and its expansions) against one snapshot of the
/// database, so that the rows it joins were all there at the same moment. PostgreSQL: a
/// `REPEATABLE READ READ ONLY` transaction (behind PgBouncer in transaction mode, the unit of
/// work's own transaction, set so before its first query); SQLite: a deferred transaction,
/// whose first read fixes what the others see.
pub fn read_in_one_snapshot<T>(
    connection: &mut DbConnection,
    read: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
    let DbConnection::Pg(postgres) = connection else {
        return connection.transaction(read);
    };
    let already_in_one = AnsiTransactionManager::transaction_manager_status_mut(postgres)
        .transaction_depth()?
        .is_some();
    if already_in_one {
        // Only `SET LOCAL`s ran in it so far, which take no snapshot.
        connection.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        return read(connection);
    }
    in_transaction(
        connection,
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        read,
    )
}

/// Runs `work` in a PostgreSQL transaction opened with `begin` (which may set things locally);
/// commits what succeeded, rolls back what failed. Transactions `work` opens become savepoints.
/// On SQLite `work` runs as it is.
pub(crate) fn in_transaction<T>(
    connection: &mut DbConnection,
    begin: &str,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
    type Manager = <DbConnection as diesel::Connection>::TransactionManager;
    let DbConnection::Pg(postgres) = connection else {
        return work(connection);
    };
    AnsiTransactionManager::begin_transaction_sql(postgres, begin)?;
    match work(connection) {
        Ok(value) => {
            Manager::commit_transaction(connection)?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves the connection broken; the pool notices on next use.
            if let Err(rollback) = Manager::rollback_transaction(connection) {
                tracing::warn!("rollback after a failed unit of work failed: {rollback}");
            }
            Err(error)
        }
    }
}
