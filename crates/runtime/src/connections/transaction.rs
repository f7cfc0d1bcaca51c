//! Units of work that span several statements: a read against one snapshot, and a unit of work
//! in a transaction opened as the connection requires (with its statement timeout set locally
//! behind PgBouncer in transaction mode).

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;

use crate::connections::db::DbConnection;

/// Runs a read of several statements (a page and its expansions) against one snapshot of the
/// database, so that the rows it joins were all there at the same moment. PostgreSQL: a
/// `REPEATABLE READ READ ONLY` transaction (behind PgBouncer in transaction mode, the unit of
/// work's own transaction, set so before its first query); SQLite: a deferred transaction,
/// whose first read fixes what the others see.
pub fn read_in_one_snapshot<T, E: From<diesel::result::Error>>(
    connection: &mut DbConnection,
    read: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
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
pub(crate) fn in_transaction<T, E: From<diesel::result::Error>>(
    connection: &mut DbConnection,
    begin: &str,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
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
