//! The platform database: our own, holding the projects (users, grants and tokens are in
//! `accounts.rs`).
//! Migrated with embedded diesel migrations, one set per backend.

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tenantapi_runtime::connections::db::DbConnection;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

diesel::table! {
    projects (id) {
        id -> Int4,
        name -> Text,
        database_url -> Text,
        enabled -> Bool,
        rate_per_second -> Nullable<Double>,
        rate_burst -> Nullable<Int4>,
        max_in_flight -> Nullable<Int4>,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = projects)]
#[diesel(check_for_backend(tenantapi_runtime::connections::db::MultiBackend))]
pub struct Project {
    pub id: i32,
    pub name: String,
    pub database_url: String,
    pub enabled: bool,
    #[diesel(embed)]
    pub limits: ProjectLimits,
}

/// A project's own rate limit and cap on database work in flight; `None`: the configuration's
/// default. A rate of 0 is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Queryable, Selectable)]
#[diesel(table_name = projects)]
#[diesel(check_for_backend(tenantapi_runtime::connections::db::MultiBackend))]
pub struct ProjectLimits {
    pub rate_per_second: Option<f64>,
    pub rate_burst: Option<i32>,
    pub max_in_flight: Option<i32>,
}

/// A change of a stored limit: keep it, set it, or back to the configuration's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitChange<T> {
    Keep,
    Set(T),
    Default,
}

impl<T: Copy> LimitChange<T> {
    /// The stored value after the change.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            LimitChange::Keep => current,
            LimitChange::Set(value) => Some(value),
            LimitChange::Default => None,
        }
    }
}

/// Changes of a project's limits (`project set-limits`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectLimitsChange {
    pub rate_per_second: LimitChange<f64>,
    pub rate_burst: LimitChange<i32>,
    pub max_in_flight: LimitChange<i32>,
}

/// Applies `change` to project `name`'s limits; the limits after.
pub fn set_project_limits(
    connection: &mut DbConnection,
    name: &str,
    change: ProjectLimitsChange,
) -> Result<ProjectLimits, PlatformError> {
    write_transaction(connection, |connection| {
        let current: ProjectLimits = projects::table
            .filter(projects::name.eq(name))
            .select(ProjectLimits::as_select())
            .first(connection)
            .optional()?
            .ok_or_else(|| PlatformError::UnknownProject {
                name: name.to_string(),
            })?;
        let next = ProjectLimits {
            rate_per_second: change.rate_per_second.apply(current.rate_per_second),
            rate_burst: change.rate_burst.apply(current.rate_burst),
            max_in_flight: change.max_in_flight.apply(current.max_in_flight),
        };
        diesel::update(projects::table.filter(projects::name.eq(name)))
            .set((
                projects::rate_per_second.eq(next.rate_per_second),
                projects::rate_burst.eq(next.rate_burst),
                projects::max_in_flight.eq(next.max_in_flight),
            ))
            .execute(connection)?;
        Ok(next)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("cannot open the platform database ({backend}): {source}")]
    Connect {
        backend: tenantapi_runtime::connections::db::BackendKind,
        source: tenantapi_runtime::connections::database_url::ConnectError,
    },
    #[error("migrating the platform database failed: {0}")]
    Migrate(String),
    #[error(
        "invalid project name {name:?}: use 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or digit"
    )]
    InvalidProjectName { name: String },
    #[error(
        "the project name {name:?} is reserved: /api/v1/{name}/ serves the API's own documentation; choose another name"
    )]
    ReservedProjectName { name: String },
    #[error(
        "project {name} already exists with another database URL; `tenantapi project set-url {name} --database-url URL` changes it"
    )]
    ProjectExists { name: String },
    #[error("no project named {name}")]
    UnknownProject { name: String },
    #[error("platform database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("the platform database holds a damaged value: {0}")]
    Damaged(String),
}

/// The key that signs cursors, shared by every server on this platform database: read, or
/// created by the first server that asks (when two ask at once, the second insert does nothing
/// and both read the first one's key).
pub fn cursor_key(
    connection: &mut DbConnection,
) -> Result<tenantapi_runtime::http::cursor::CursorKey, PlatformError> {
    const NAME: &str = "cursor_key";
    let stored = || {
        server_secrets::table
            .filter(server_secrets::name.eq(NAME))
            .select(server_secrets::value)
    };
    let value = match stored().first::<String>(connection).optional()? {
        Some(value) => value,
        None => {
            let fresh = tenantapi_runtime::http::cursor::CursorKey::random();
            let hex = crate::secrets::hex(&fresh.0);
            // Hex digits only: nothing to quote.
            diesel::sql_query(format!(
                "INSERT INTO server_secrets (name, value) VALUES ('{NAME}', '{hex}') ON CONFLICT (name) DO NOTHING"
            ))
            .execute(connection)?;
            stored().first::<String>(connection)?
        }
    };
    let mut key = [0u8; 32];
    let valid = value.len() == 64
        && key.iter_mut().enumerate().all(|(index, byte)| {
            u8::from_str_radix(&value[index * 2..index * 2 + 2], 16)
                .map(|parsed| *byte = parsed)
                .is_ok()
        });
    if !valid {
        return Err(PlatformError::Damaged(format!(
            "server_secrets.{NAME} is not 64 hex digits; delete the row and a server will create a new key (cursors handed out before become invalid)"
        )));
    }
    Ok(tenantapi_runtime::http::cursor::CursorKey(key))
}

/// Opens the platform database and applies pending migrations; returns their names.
pub fn open_and_migrate(url: &str) -> Result<(DbConnection, Vec<String>), PlatformError> {
    let url = tenantapi_runtime::connections::database_url::DatabaseUrl::new(url);
    let backend = url.backend();
    let mut connection = url
        .open()
        .map_err(|source| PlatformError::Connect { backend, source })?;
    let applied = migrate(&mut connection)?;
    Ok((connection, applied))
}

pub fn migrate(connection: &mut DbConnection) -> Result<Vec<String>, PlatformError> {
    let applied = match connection {
        DbConnection::Pg(pg) => pg
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|applied| applied.iter().map(ToString::to_string).collect()),
        DbConnection::Sqlite(sqlite) => {
            // Several commands may start at once on a new platform database: the first takes
            // the write lock and migrates; the others wait for it (busy timeout) and then find
            // nothing left to do, instead of racing to create the same tables.
            let pending = sqlite
                .has_pending_migration(SQLITE_MIGRATIONS)
                .map_err(|error| PlatformError::Migrate(error.to_string()))?;
            if !pending {
                return Ok(Vec::new());
            }
            sqlite.immediate_transaction(|sqlite| {
                sqlite
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|applied| applied.iter().map(ToString::to_string).collect())
            })
        }
    }
    .map_err(|error| PlatformError::Migrate(error.to_string()))?;
    Ok(applied)
}

/// Runs `change` in one transaction that holds the write lock from its start on SQLite
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
/// "database is locked" when another process wrote in between, which a busy timeout cannot
/// help. Admin commands run concurrently with each other and with a serving process.
pub fn write_transaction<T, E>(
    connection: &mut DbConnection,
    change: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match connection {
        DbConnection::Pg(_) => connection.transaction(change),
        DbConnection::Sqlite(_) => {
            use diesel::connection::SimpleConnection as _;
            connection.batch_execute("BEGIN IMMEDIATE")?;
            match change(connection) {
                Ok(value) => match connection.batch_execute("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(error) => {
                        let _ = connection.batch_execute("ROLLBACK");
                        Err(error.into())
                    }
                },
                Err(error) => {
                    let _ = connection.batch_execute("ROLLBACK");
                    Err(error)
                }
            }
        }
    }
}

/// Project names are URL segments and log fields: a slug keeps them unambiguous in both.
/// Names the API root uses for itself (`/api/v1/schema/`, `/api/v1/docs/`).
pub const RESERVED_PROJECT_NAMES: [&str; 2] = ["schema", "docs"];

pub fn check_project_name(name: &str) -> Result<(), PlatformError> {
    if RESERVED_PROJECT_NAMES.contains(&name) {
        return Err(PlatformError::ReservedProjectName {
            name: name.to_string(),
        });
    }
    let bytes = name.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if valid {
        Ok(())
    } else {
        Err(PlatformError::InvalidProjectName {
            name: name.to_string(),
        })
    }
}

/// What `add_project` did: the command is idempotent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    AlreadyPresent,
}

pub fn add_project(
    connection: &mut DbConnection,
    name: &str,
    database_url: &str,
) -> Result<AddOutcome, PlatformError> {
    check_project_name(name)?;
    write_transaction(connection, |connection| {
        let existing = projects::table
            .filter(projects::name.eq(name))
            .select(Project::as_select())
            .first(connection)
            .optional()?;
        match existing {
            Some(project) if project.database_url == database_url => Ok(AddOutcome::AlreadyPresent),
            Some(_) => Err(PlatformError::ProjectExists {
                name: name.to_string(),
            }),
            None => {
                diesel::insert_into(projects::table)
                    .values((
                        projects::name.eq(name),
                        projects::database_url.eq(database_url),
                        projects::enabled.eq(true),
                    ))
                    .execute(connection)?;
                Ok(AddOutcome::Added)
            }
        }
    })
}

pub fn list_projects(connection: &mut DbConnection) -> Result<Vec<Project>, PlatformError> {
    Ok(projects::table
        .order(projects::name.asc())
        .select(Project::as_select())
        .load(connection)?)
}

pub fn enabled_projects(connection: &mut DbConnection) -> Result<Vec<Project>, PlatformError> {
    Ok(projects::table
        .filter(projects::enabled.eq(true))
        .order(projects::name.asc())
        .select(Project::as_select())
        .load(connection)?)
}

pub fn set_enabled(
    connection: &mut DbConnection,
    name: &str,
    enabled: bool,
) -> Result<(), PlatformError> {
    let updated = diesel::update(projects::table.filter(projects::name.eq(name)))
        .set(projects::enabled.eq(enabled))
        .execute(connection)?;
    project_found(name, updated)
}

pub fn set_database_url(
    connection: &mut DbConnection,
    name: &str,
    database_url: &str,
) -> Result<(), PlatformError> {
    let updated = diesel::update(projects::table.filter(projects::name.eq(name)))
        .set(projects::database_url.eq(database_url))
        .execute(connection)?;
    project_found(name, updated)
}

pub fn remove_project(connection: &mut DbConnection, name: &str) -> Result<(), PlatformError> {
    let deleted =
        diesel::delete(projects::table.filter(projects::name.eq(name))).execute(connection)?;
    project_found(name, deleted)
}

/// A statement on project `name` that touched no row means there is no such project.
fn project_found(name: &str, rows: usize) -> Result<(), PlatformError> {
    if rows == 0 {
        return Err(PlatformError::UnknownProject {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_slugs() {
        for good in ["prj_1", "acme", "a", "9lives", "north-site"] {
            assert!(check_project_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "_x", "-x", "a b", "a/b", "ä", &"x".repeat(64)] {
            assert!(check_project_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn project_commands_are_idempotent_and_report_unknown_names() {
        let path =
            std::env::temp_dir().join(format!("tenantapi-platform-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (mut connection, applied) = open_and_migrate(path.to_str().unwrap()).unwrap();
        assert_eq!(
            applied,
            [
                "20261126000001",
                "20261126000002",
                "20261126000003",
                "20261205000004"
            ]
        );
        assert_eq!(
            migrate(&mut connection).unwrap(),
            Vec::<String>::new(),
            "second run applies nothing"
        );
        assert_eq!(
            add_project(&mut connection, "acme", "a.db").unwrap(),
            AddOutcome::Added
        );
        assert_eq!(
            add_project(&mut connection, "acme", "a.db").unwrap(),
            AddOutcome::AlreadyPresent
        );
        assert!(matches!(
            add_project(&mut connection, "acme", "b.db"),
            Err(PlatformError::ProjectExists { .. })
        ));
        set_enabled(&mut connection, "acme", false).unwrap();
        assert!(enabled_projects(&mut connection).unwrap().is_empty());
        assert_eq!(list_projects(&mut connection).unwrap().len(), 1);
        assert!(matches!(
            set_enabled(&mut connection, "nope", true),
            Err(PlatformError::UnknownProject { .. })
        ));
        remove_project(&mut connection, "acme").unwrap();
        assert!(matches!(
            remove_project(&mut connection, "acme"),
            Err(PlatformError::UnknownProject { .. })
        ));
        drop(connection);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_cursor_key_is_made_once_and_a_damaged_one_is_named() {
        let path = std::env::temp_dir().join(format!("tenantapi-keys-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (mut first, _) = open_and_migrate(path.to_str().unwrap()).unwrap();
        let key = cursor_key(&mut first).unwrap();
        let (mut second, _) = open_and_migrate(path.to_str().unwrap()).unwrap();
        assert_eq!(cursor_key(&mut second).unwrap(), key, "shared, not remade");
        diesel::sql_query("UPDATE server_secrets SET value = 'xyz'")
            .execute(&mut first)
            .unwrap();
        let Err(error) = cursor_key(&mut second) else {
            panic!("a damaged key was accepted")
        };
        assert!(error.to_string().contains("delete the row"), "{error}");
        drop((first, second));
        let _ = std::fs::remove_file(&path);
    }
}
