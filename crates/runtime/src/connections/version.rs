//! The structure version a project database records, read and compared with the version the
//! generated code was built for.

use diesel::RunQueryDsl as _;

use crate::connections::db::DbConnection;
use crate::connections::unavailable::Unavailable;

/// One structure version a build serves and how to read the version a project database
/// records (the same query for every served version).
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

    /// Why a database that records `found` is not served.
    pub fn mismatch(&self, found: &str) -> Unavailable {
        Unavailable::VersionMismatch {
            found: found.to_string(),
            serves: format!("{:?}", self.expected),
        }
    }

    /// Inside a write's transaction: refuses the write unless the database records exactly
    /// the expected version at this moment.
    pub fn verify_for_write(&self, connection: &mut DbConnection) -> Result<(), Unavailable> {
        match self.read(connection, true) {
            Ok(found) if found == self.expected => Ok(()),
            Ok(found) => Err(self.mismatch(&found)),
            Err(error) => {
                tracing::warn!("refusing a write: {error}");
                Err(Unavailable::VersionUnreadable)
            }
        }
    }
}

/// Whether a write may run as one statement that checks the version (`data::write::guarded`, in a
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

/// Why a guarded statement wrote nothing, when the version is why: the database no longer
/// records the served version, or a migration holds the version row (try again). `None` when
/// the guard holds: the write's own condition failed (an update or delete whose row is not
/// there). Nothing here waits for a migration.
pub fn why_unwritten(
    connection: &mut DbConnection,
    version: &StructureVersion,
) -> Option<Unavailable> {
    match version.read(connection, false) {
        Ok(found) if found != version.expected => return Some(version.mismatch(&found)),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!("refusing a write: {error}");
            return Some(Unavailable::VersionUnreadable);
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
        Ok(Holds { holds: true }) => None,
        Ok(Holds { holds: false }) => Some(Unavailable::VersionChanging),
        Err(error) => {
            tracing::warn!("refusing a write: {error}");
            Some(Unavailable::VersionUnreadable)
        }
    }
}
