//! Project database connections: one connection enum over PostgreSQL and SQLite, and its r2d2 manager.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

use crate::database_url::DatabaseUrl;

/// A connection to one project database, PostgreSQL or SQLite.
///
/// `MultiConnection` gives one backend type (`MultiBackend`) so that every generated
/// query is compiled once, not once per backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The backend type every generated query is written for.
pub type Db = MultiBackend;

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; anything else is a SQLite path
    /// or `sqlite://` / `file:` URL.
    pub fn of_url(url: &str) -> BackendKind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Sqlite => "sqlite",
        })
    }
}

/// The path SQLite should open for a URL: `sqlite://path` and `sqlite:path` lose their prefix.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

impl DbConnection {
    pub fn backend(&self) -> BackendKind {
        match self {
            DbConnection::Pg(_) => BackendKind::Postgres,
            DbConnection::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    /// Opens a connection to a database that must already exist: a mistyped SQLite path is
    /// an error, not a new empty database. Project databases are opened this way.
    pub fn open_existing(url: &str) -> ConnectionResult<DbConnection> {
        if BackendKind::of_url(url) == BackendKind::Sqlite {
            let path = sqlite_path(url);
            let special = path == ":memory:" || path.starts_with("file:");
            if !special && !std::path::Path::new(path).is_file() {
                return Err(ConnectionError::BadConnection(
                    "no SQLite database file at the given path".into(),
                ));
            }
        }
        DbConnection::open(url)
    }

    /// Opens a connection of the backend the URL names, never guessing by trial: a
    /// PostgreSQL URL that fails must not fall through to SQLite and create a file.
    pub fn open(url: &str) -> ConnectionResult<DbConnection> {
        match BackendKind::of_url(url) {
            BackendKind::Postgres => diesel::PgConnection::establish(url).map(DbConnection::Pg),
            BackendKind::Sqlite => {
                crate::watch::install_sqlite_statement_deadline();
                // Switching a new database to WAL while another process does the same, or
                // recovers its WAL, answers "database is locked" at once, without waiting in
                // the busy handler: such opens are retried for as long as the busy timeout.
                let give_up = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
                let mut pause = std::time::Duration::from_millis(5);
                loop {
                    match open_sqlite(url) {
                        Err(ConnectionError::CouldntSetupConfiguration(error))
                            if is_sqlite_busy(&error) && std::time::Instant::now() < give_up =>
                        {
                            std::thread::sleep(pause);
                            pause = (pause * 2).min(std::time::Duration::from_millis(100));
                        }
                        other => return other,
                    }
                }
            }
        }
    }
}

/// How long SQLite waits for another connection's lock before answering "database is locked".
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn open_sqlite(url: &str) -> ConnectionResult<DbConnection> {
    let mut connection = diesel::SqliteConnection::establish(sqlite_path(url))?;
    // Foreign keys are off by default in SQLite; a busy timeout turns concurrent writers into
    // short waits instead of "database is locked" errors.
    connection
        .batch_execute(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
            SQLITE_BUSY_TIMEOUT.as_millis()
        ))
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(DbConnection::Sqlite(connection))
}

fn is_sqlite_busy(error: &diesel::result::Error) -> bool {
    match error {
        diesel::result::Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked") || message.contains("database is busy")
        }
        _ => false,
    }
}

/// r2d2 manager that opens [`DbConnection`]s for one URL (the platform database's pool; project
/// databases have their own, see `pool`).
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// Whether a missing SQLite file may be created (our platform database) or is an error.
    create: bool,
}

impl ConnectionManager {
    /// For databases that must exist.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionManager {
            url: DatabaseUrl::new(url),
            create: false,
        }
    }

    /// For a database this process may create (the platform database).
    pub fn creating(url: impl Into<String>) -> Self {
        ConnectionManager {
            create: true,
            ..ConnectionManager::new(url)
        }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
}

/// Why a pooled connection could not be opened or kept.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The connection error's text, with the URL's password removed.
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("connection check failed: {0}")]
    Check(#[from] diesel::result::Error),
    /// Refused by a connection customizer, e.g. a structure version mismatch.
    #[error("{0}")]
    Rejected(String),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        let opened = if self.create {
            self.url.open()
        } else {
            self.url.open_existing()
        };
        opened.map_err(|error| ManagerError::Connect(error.to_string()))
    }

    fn is_valid(&self, connection: &mut DbConnection) -> Result<(), ManagerError> {
        Ok(connection.ping()?)
    }

    fn has_broken(&self, connection: &mut DbConnection) -> bool {
        connection.is_broken()
    }
}

/// A pool of connections to one project database.
pub type DbPool = r2d2::Pool<ConnectionManager>;
/// A connection checked out of a [`DbPool`]; it returns to the pool on drop.
pub type PooledDbConnection = r2d2::PooledConnection<ConnectionManager>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_project_database_file_is_not_created() {
        let path =
            std::env::temp_dir().join(format!("tenantapi-missing-{}.db", std::process::id()));
        assert!(DbConnection::open_existing(path.to_str().unwrap()).is_err());
        assert!(!path.exists());
    }
}
