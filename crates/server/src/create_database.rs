//! `project create` and `ddl`: a new project database made from the generated DDL, with the
//! structure version recorded, for development, demos and tests (in production the external
//! system that owns the structure creates and migrates the databases).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::database_url::{DatabaseUrl, Pooler};
use tenantapi_runtime::connections::db::{BackendKind, sqlite_path};
use tenantapi_schema::sql::quote_identifier;

/// Why a database could not be created; nothing was left behind.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(
        "{0} already exists; `project create` makes a new database, so choose another name, or \
         register the existing database with `project add`"
    )]
    Exists(String),
    #[error(
        "the database URL leads through PgBouncer ({0}); create the database with a direct URL, \
         then point the project at PgBouncer with `project set-url`"
    )]
    ThroughPooler(&'static str),
    #[error(
        "the database URL names no database (postgres://user@host:port/DATABASE); name the one \
         to create"
    )]
    NoDatabaseName,
    #[error("cannot create the SQLite file {path}: {message}")]
    SqliteFile { path: PathBuf, message: String },
    #[error("cannot connect to create {database}: {message}")]
    Connect { database: String, message: String },
    #[error("cannot create {database}: {message}")]
    Create { database: String, message: String },
    #[error(
        "cannot create the structure in {database} (the database was removed again): {message}"
    )]
    Structure { database: String, message: String },
}

/// A database this command created: removed again if a later step fails.
#[derive(Debug)]
pub enum CreatedDatabase {
    Sqlite(PathBuf),
    Postgres {
        /// A URL of the same server, to drop the database from.
        maintenance: DatabaseUrl,
        name: String,
    },
}

impl CreatedDatabase {
    /// Removes the database; used when a later step failed, so best effort, logged.
    pub fn remove(self) {
        match self {
            CreatedDatabase::Sqlite(path) => remove_sqlite_files(&path),
            CreatedDatabase::Postgres { maintenance, name } => {
                let dropped = maintenance
                    .open_existing()
                    .map_err(|error| error.to_string())
                    .and_then(|mut connection| {
                        connection
                            .batch_execute(&format!(
                                "DROP DATABASE IF EXISTS {}",
                                quote_identifier(&name)
                            ))
                            .map_err(|error| maintenance.redact(&error.to_string()))
                    });
                if let Err(error) = dropped {
                    tracing::error!(
                        "cannot remove the database {name} this command created: {error}"
                    );
                }
            }
        }
    }
}

/// Creates the database `url` names, which must not exist yet, applies the generated DDL and
/// records the structure version, in one transaction.
pub fn create_database(
    api: &'static GeneratedApi,
    url: &DatabaseUrl,
) -> Result<CreatedDatabase, CreateError> {
    match url.pooler() {
        Ok(Pooler::Direct) => {}
        Ok(Pooler::Session) => return Err(CreateError::ThroughPooler("pgbouncer=session")),
        Ok(Pooler::Transaction) => return Err(CreateError::ThroughPooler("pgbouncer=transaction")),
        Err(error) => {
            return Err(CreateError::Connect {
                database: url.to_string(),
                message: error.to_string(),
            });
        }
    }
    let created = match url.backend() {
        BackendKind::Sqlite => create_sqlite_file(Path::new(sqlite_path(url.secret())))?,
        BackendKind::Postgres => create_postgres_database(url)?,
    };
    let database = describe(&created);
    let script = ddl_script(api, url.backend());
    let applied = api
        .project_url(url.secret())
        .open_existing()
        .map_err(|error| error.to_string())
        .and_then(|mut connection| {
            connection
                .batch_execute(&format!("BEGIN;\n{script}\nCOMMIT;"))
                .map_err(|error| url.redact(&error.to_string()))
        });
    match applied {
        Ok(()) => Ok(created),
        Err(message) => {
            created.remove();
            Err(CreateError::Structure { database, message })
        }
    }
}

/// What `ddl` prints and `project create` runs: the structure, then its version record.
pub fn ddl_script(api: &GeneratedApi, backend: BackendKind) -> String {
    let ddl = match backend {
        BackendKind::Postgres => api.postgres_ddl,
        BackendKind::Sqlite => api.sqlite_ddl,
    };
    format!(
        "{}\n\n-- The structure version this build serves: the server refuses a database without it.\n{};\n",
        ddl.trim_end(),
        api.insert_version_sql.trim_end().trim_end_matches(';')
    )
}

/// How a created database is named to the operator (no credentials).
pub fn describe(created: &CreatedDatabase) -> String {
    match created {
        CreatedDatabase::Sqlite(path) => format!("SQLite file {}", path.display()),
        CreatedDatabase::Postgres { maintenance, name } => {
            format!("PostgreSQL database {name} on {}", server_name(maintenance))
        }
    }
}

/// The server of a PostgreSQL URL, for messages (no credentials).
fn server_name(url: &DatabaseUrl) -> String {
    url.server().unwrap_or_else(|| url.to_string())
}

fn create_sqlite_file(path: &Path) -> Result<CreatedDatabase, CreateError> {
    let failed = |message: String| CreateError::SqliteFile {
        path: path.to_path_buf(),
        message,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(failed(format!(
            "the directory {} does not exist; create it first",
            parent.display()
        )));
    }
    // `create_new` makes the check and the creation one step: two commands racing for one
    // path cannot both think they made it. SQLite takes an empty file as a new database.
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => Ok(CreatedDatabase::Sqlite(path.to_path_buf())),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(
            CreateError::Exists(format!("the SQLite file {}", path.display())),
        ),
        Err(error) => Err(failed(error.to_string())),
    }
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::error!(
                "cannot remove {} this command created: {error}",
                Path::new(&file).display()
            ),
        }
    }
}

/// Databases to connect to while the new one does not exist yet: PostgreSQL's maintenance
/// database, then the template every cluster has.
const MAINTENANCE_DATABASES: [&str; 2] = ["postgres", "template1"];

fn create_postgres_database(url: &DatabaseUrl) -> Result<CreatedDatabase, CreateError> {
    let name = url.postgres_database().ok_or(CreateError::NoDatabaseName)?;
    let mut last_error = String::new();
    for maintenance_name in MAINTENANCE_DATABASES {
        let maintenance = url.with_postgres_database(maintenance_name);
        let mut connection = match maintenance.open_existing() {
            Ok(connection) => connection,
            Err(error) => {
                last_error = error.to_string();
                continue;
            }
        };
        let created = CreatedDatabase::Postgres {
            maintenance: maintenance.clone(),
            name: name.clone(),
        };
        return match connection
            .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))
        {
            Ok(()) => Ok(created),
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("already exists") =>
            {
                Err(CreateError::Exists(describe(&created)))
            }
            Err(error) => Err(CreateError::Create {
                database: describe(&created),
                message: url.redact(&error.to_string()),
            }),
        };
    }
    Err(CreateError::Connect {
        database: format!("PostgreSQL database {name} on {}", server_name(url)),
        message: format!(
            "{last_error} (connecting to the server's {} database, since {name} does not exist yet)",
            MAINTENANCE_DATABASES.join(" or ")
        ),
    })
}
