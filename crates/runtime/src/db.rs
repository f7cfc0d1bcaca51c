//! Project database connections: one connection enum over PostgreSQL and SQLite, and its r2d2 manager.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

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

    /// Opens a connection of the backend the URL names, never guessing by trial: a
    /// PostgreSQL URL that fails must not fall through to SQLite and create a file.
    pub fn open(url: &str) -> ConnectionResult<DbConnection> {
        match BackendKind::of_url(url) {
            BackendKind::Postgres => diesel::PgConnection::establish(url).map(DbConnection::Pg),
            BackendKind::Sqlite => {
                let mut connection = diesel::SqliteConnection::establish(sqlite_path(url))?;
                // Foreign keys are off by default in SQLite; a busy timeout turns concurrent
                // writers into short waits instead of "database is locked" errors.
                connection
                    .batch_execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;",
                    )
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(connection))
            }
        }
    }
}

/// r2d2 manager that opens [`DbConnection`]s for one URL.
#[derive(Clone)]
pub struct ConnectionManager {
    url: String,
}

impl ConnectionManager {
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionManager { url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may carry credentials: never print them.
        f.debug_struct("ConnectionManager")
            .field("backend", &BackendKind::of_url(&self.url))
            .finish()
    }
}

/// Why a pooled connection could not be opened or kept.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("cannot connect: {0}")]
    Connect(#[from] ConnectionError),
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
        Ok(DbConnection::open(&self.url)?)
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
