//! Database connections: one connection enum over PostgreSQL and SQLite, opening it from a
//! [`DatabaseUrl`] (errors without the password, pooled sessions prepared), and its r2d2 manager.

use diesel::connection::{CacheSize, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

pub use crate::connections::database_url::BackendKind;
use crate::connections::database_url::{ConnectError, DatabaseUrl, POOLER_PARAMETER, Pooler};

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
                crate::connections::watch::install_sqlite_statement_deadline();
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

/// Opening connections from a URL: what libpq is given, and what a pooled session needs.
impl DatabaseUrl {
    /// Opens a connection to a database that must already exist (a mistyped SQLite path is an
    /// error, not a new empty database).
    pub fn open_existing(&self) -> Result<DbConnection, ConnectError> {
        self.connect(true)
    }

    /// Opens a connection, creating a missing SQLite file (our own platform database).
    pub fn open(&self) -> Result<DbConnection, ConnectError> {
        self.connect(false)
    }

    fn connect(&self, existing: bool) -> Result<DbConnection, ConnectError> {
        let pooler = self.pooler()?;
        let url = match pooler {
            Pooler::Direct => self.secret().to_string(),
            Pooler::Session | Pooler::Transaction => self.for_libpq(),
        };
        let opened = if existing {
            DbConnection::open_existing(&url)
        } else {
            DbConnection::open(&url)
        };
        let mut connection = opened.map_err(|error| self.connect_error(&error))?;
        self.prepare_session(pooler, &mut connection)?;
        Ok(connection)
    }

    /// What a pooled connection needs before its first statement.
    fn prepare_session(
        &self,
        pooler: Pooler,
        connection: &mut DbConnection,
    ) -> Result<(), ConnectError> {
        let path = self.pooled_search_path();
        match pooler {
            Pooler::Direct => Ok(()),
            Pooler::Session if path.is_empty() => Ok(()),
            Pooler::Session => connection
                .batch_execute(&format!(
                    "SET search_path TO {}",
                    crate::connections::database_url::search_path_setting(path)
                ))
                .map_err(|error| {
                    ConnectError(self.redact(&format!("cannot set the search path: {error}")))
                }),
            Pooler::Transaction => {
                // Named prepared statements live in one server connection, which the next
                // transaction may not get; uncached statements are parsed, bound and run in
                // one exchange.
                connection.set_prepared_statement_cache_size(CacheSize::Disabled);
                if path.is_empty() {
                    Ok(())
                } else {
                    self.require_search_path(connection, path)
                }
            }
        }
    }

    /// Through PgBouncer in transaction mode the role's own search path must find the
    /// described tables: the description's schema first, the others on it.
    fn require_search_path(
        &self,
        connection: &mut DbConnection,
        path: &[String],
    ) -> Result<(), ConnectError> {
        #[derive(diesel::QueryableByName)]
        struct CurrentSchema {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let found: Vec<String> = diesel::sql_query(
            "SELECT name::text AS name FROM unnest(current_schemas(false)) \
             WITH ORDINALITY AS path(name, position) ORDER BY position",
        )
        .load::<CurrentSchema>(connection)
        .map_err(|error| {
            ConnectError(self.redact(&format!("cannot read the current schemas: {error}")))
        })?
        .into_iter()
        .map(|schema| schema.name)
        .collect();
        let first_matches = found.first() == path.first();
        if first_matches && path.iter().all(|schema| found.contains(schema)) {
            return Ok(());
        }
        let wanted = crate::connections::database_url::search_path_setting(path).replace(',', ", ");
        let schemas = if path.len() == 1 {
            format!("schema {}", path[0])
        } else {
            format!("schemas {}", path.join(", "))
        };
        Err(ConnectError(format!(
            "the described tables live in {schemas}, but this connection's search path is {}; \
             through PgBouncer in transaction mode the search path cannot be set per \
             connection, so set it for the role (ALTER ROLE <user> IN DATABASE <database> SET \
             search_path = {wanted}) or use {POOLER_PARAMETER}=session",
            if found.is_empty() {
                "empty".to_string()
            } else {
                found.join(", ")
            }
        )))
    }

    fn connect_error(&self, error: &diesel::ConnectionError) -> ConnectError {
        let text = error.to_string();
        if text.contains("unsupported startup parameter: options") {
            // PgBouncer, unannounced, refusing the search path the URL carries.
            return ConnectError(self.redact(&format!(
                "{}: the URL leads to PgBouncer, which refuses the search path this server \
                 sends when connecting; add {POOLER_PARAMETER}=session or \
                 {POOLER_PARAMETER}=transaction to the URL (the pool_mode PgBouncer uses for \
                 this database)",
                text.trim_end()
            )));
        }
        ConnectError(self.redact(&text))
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

    #[test]
    fn connection_errors_carry_no_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@127.0.0.1:9/nothing?connect_timeout=2");
        let error = url
            .open_existing()
            .err()
            .expect("nothing listens on port 9");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
