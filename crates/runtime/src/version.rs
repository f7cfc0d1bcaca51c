//! The structure version a project database records, read and compared with the version the
//! generated code was built for.

use diesel::RunQueryDsl as _;

use crate::db::DbConnection;
use crate::error::ApiError;

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
        let sql = match connection {
            DbConnection::Pg(_) if lock_for_write => format!("{} FOR SHARE", self.select_sql),
            _ => self.select_sql.to_string(),
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

    /// The 503 detail for a database that records `found`.
    pub fn mismatch_detail(&self, found: &str) -> String {
        format!(
            "The project database has structure version \"{found}\"; this server serves version \"{}\". It is unavailable until they match.",
            self.expected
        )
    }

    /// Inside a write's transaction: refuses the write unless the database records exactly
    /// the expected version at this moment.
    pub fn verify_for_write(&self, connection: &mut DbConnection) -> Result<(), ApiError> {
        match self.read(connection, true) {
            Ok(found) if found == self.expected => Ok(()),
            Ok(found) => Err(ApiError::Unavailable {
                detail: self.mismatch_detail(&found),
                retry_after_seconds: 30,
            }),
            Err(error) => {
                log::warn!("refusing a write: {error}");
                Err(ApiError::Unavailable {
                    detail: "The project database's structure version cannot be read. It is unavailable until it can.".into(),
                    retry_after_seconds: 30,
                })
            }
        }
    }
}
