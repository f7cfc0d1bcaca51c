//! The work of each administration command of the `tenantapi` binary: every function takes the
//! configuration and the command's arguments and returns a typed outcome whose `Display` is
//! what the command prints, or a [`CommandError`] (one line on stderr, exit 1).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::database_url::DatabaseUrl;
use tenantapi_runtime::db::DbConnection;

use crate::accounts::{self, AccountError, Change, Role, TokenInfo};
use crate::check::{self, CheckRow};
use crate::config::Config;
use crate::create;
use crate::health::{Health, judge};
use crate::introspect;
use crate::platform::{self, PlatformError, Project};

/// Why a command failed; the message is what the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Create(#[from] create::CreateError),
    #[error("{0}")]
    Failed(String),
}

fn failed(message: impl Into<String>) -> CommandError {
    CommandError::Failed(message.into())
}

fn platform_connection(config: &Config) -> Result<DbConnection, CommandError> {
    Ok(platform::open_and_migrate(&config.platform_database_url)?.0)
}

/// `migrate`: the platform migrations applied now.
pub struct Migrated(pub Vec<String>);

impl fmt::Display for Migrated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return writeln!(f, "platform database is up to date");
        }
        for migration in &self.0 {
            writeln!(f, "applied {migration}")?;
        }
        Ok(())
    }
}

pub fn migrate(config: &Config) -> Result<Migrated, CommandError> {
    Ok(Migrated(
        platform::open_and_migrate(&config.platform_database_url)?.1,
    ))
}

/// What a project command did.
pub enum ProjectOutcome {
    Added(String),
    /// `project create`: the project's name, the database made (no credentials) and the
    /// structure version recorded in it.
    Created {
        name: String,
        database: String,
        version: &'static str,
    },
    AlreadyPresent(String),
    UrlChanged(String),
    Enabled(String),
    Disabled(String),
    Removed(String),
    /// `project list`: passwords in URLs shown as `***`.
    Listed(Vec<Project>),
}

impl fmt::Display for ProjectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectOutcome::Added(name) => writeln!(f, "added project {name}"),
            ProjectOutcome::Created {
                name,
                database,
                version,
            } => writeln!(
                f,
                "created {database} with structure version {version}, and added project {name}"
            ),
            ProjectOutcome::AlreadyPresent(name) => {
                writeln!(f, "project {name} already exists with this database URL")
            }
            ProjectOutcome::UrlChanged(name) => writeln!(f, "changed the database URL of {name}"),
            ProjectOutcome::Enabled(name) => writeln!(f, "enabled {name}"),
            ProjectOutcome::Disabled(name) => writeln!(f, "disabled {name}"),
            ProjectOutcome::Removed(name) => writeln!(f, "removed {name}"),
            ProjectOutcome::Listed(projects) => {
                for project in projects {
                    let state = if project.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    writeln!(
                        f,
                        "{}\t{state}\t{}",
                        project.name,
                        DatabaseUrl::new(project.database_url.as_str())
                    )?;
                }
                Ok(())
            }
        }
    }
}

pub fn project_add(
    config: &Config,
    name: &str,
    database_url: &str,
) -> Result<ProjectOutcome, CommandError> {
    check_project_url(database_url)?;
    let outcome = platform::add_project(&mut platform_connection(config)?, name, database_url)?;
    Ok(match outcome {
        platform::AddOutcome::Added => ProjectOutcome::Added(name.to_string()),
        platform::AddOutcome::AlreadyPresent => ProjectOutcome::AlreadyPresent(name.to_string()),
    })
}

/// `project create`: a new database with the generated structure, registered as a project.
/// Refuses, changing nothing, when the project or the database exists already.
pub fn project_create(
    api: &'static GeneratedApi,
    config: &Config,
    name: &str,
    database_url: &str,
) -> Result<ProjectOutcome, CommandError> {
    platform::check_project_name(name)?;
    check_project_url(database_url)?;
    let mut platform_db = platform_connection(config)?;
    if platform::list_projects(&mut platform_db)?
        .iter()
        .any(|project| project.name == name)
    {
        return Err(failed(format!(
            "project {name} already exists; `project create` registers a new project (see \
             `project list`, or `project set-url` to point {name} at another database)"
        )));
    }
    let created = create::create_database(api, &DatabaseUrl::new(database_url))?;
    let database = create::describe(&created);
    match platform::add_project(&mut platform_db, name, database_url) {
        Ok(_) => Ok(ProjectOutcome::Created {
            name: name.to_string(),
            database,
            version: api.schema_version,
        }),
        Err(error) => {
            created.remove();
            Err(error.into())
        }
    }
}

pub fn project_set_url(
    config: &Config,
    name: &str,
    database_url: &str,
) -> Result<ProjectOutcome, CommandError> {
    check_project_url(database_url)?;
    platform::set_database_url(&mut platform_connection(config)?, name, database_url)?;
    Ok(ProjectOutcome::UrlChanged(name.to_string()))
}

/// Refuses a URL whose own parameters are wrong before it is stored; whether the database
/// answers is for `check` to say.
fn check_project_url(database_url: &str) -> Result<(), CommandError> {
    DatabaseUrl::new(database_url)
        .pooler()
        .map(|_| ())
        .map_err(|error| failed(error.to_string()))
}

pub fn project_list(config: &Config) -> Result<ProjectOutcome, CommandError> {
    Ok(ProjectOutcome::Listed(platform::list_projects(
        &mut platform_connection(config)?,
    )?))
}

pub fn project_set_enabled(
    config: &Config,
    name: &str,
    enabled: bool,
) -> Result<ProjectOutcome, CommandError> {
    platform::set_enabled(&mut platform_connection(config)?, name, enabled)?;
    Ok(if enabled {
        ProjectOutcome::Enabled(name.to_string())
    } else {
        ProjectOutcome::Disabled(name.to_string())
    })
}

pub fn project_remove(config: &Config, name: &str) -> Result<ProjectOutcome, CommandError> {
    platform::remove_project(&mut platform_connection(config)?, name)?;
    Ok(ProjectOutcome::Removed(name.to_string()))
}

/// What an account command did; idempotent commands say whether anything changed.
pub enum AccountOutcome {
    UserSaved {
        name: String,
        change: Change,
    },
    UserActive {
        name: String,
        active: bool,
        change: Change,
    },
    Granted {
        user: String,
        project: String,
        role: Role,
        change: Change,
    },
    Revoked {
        user: String,
        project: String,
        change: Change,
    },
    /// The new token, shown this once.
    TokenCreated(String),
    TokensListed(Vec<TokenInfo>),
    TokenRevoked {
        prefix: String,
        change: Change,
    },
}

impl fmt::Display for AccountOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let made = |change: &Change| *change == Change::Made;
        match self {
            AccountOutcome::UserSaved { name, change } if made(change) => {
                writeln!(f, "saved user {name}")
            }
            AccountOutcome::UserSaved { name, .. } => {
                writeln!(f, "user {name} already exists as requested")
            }
            AccountOutcome::UserActive {
                name,
                active,
                change,
            } => {
                let state = if *active { "enabled" } else { "disabled" };
                if made(change) {
                    writeln!(f, "{state} {name}")
                } else {
                    writeln!(f, "{name} is already {state}")
                }
            }
            AccountOutcome::Granted {
                user,
                project,
                role,
                change,
            } => {
                if made(change) {
                    writeln!(f, "{user} may now {} {project}", role.as_str())
                } else {
                    writeln!(f, "{user} already has {} on {project}", role.as_str())
                }
            }
            AccountOutcome::Revoked {
                user,
                project,
                change,
            } => {
                if made(change) {
                    writeln!(f, "revoked {user} on {project}")
                } else {
                    writeln!(f, "{user} had no grant on {project}")
                }
            }
            AccountOutcome::TokenCreated(token) => writeln!(f, "{token}"),
            AccountOutcome::TokensListed(tokens) => {
                for token in tokens {
                    let state = if token.revoked {
                        "revoked"
                    } else if token
                        .expires_at
                        .is_some_and(|expiry| expiry <= accounts::now_seconds())
                    {
                        "expired"
                    } else {
                        "active"
                    };
                    let never = || "never".to_string();
                    writeln!(
                        f,
                        "{}\t{}\t{state}\tcreated {}\texpires {}\tlast used {}",
                        token.prefix,
                        token.name,
                        token.created_at,
                        token.expires_at.map_or_else(never, |at| at.to_string()),
                        token.last_used_at.map_or_else(never, |at| at.to_string()),
                    )?;
                }
                Ok(())
            }
            AccountOutcome::TokenRevoked { prefix, change } if made(change) => {
                writeln!(f, "revoked token {prefix}")
            }
            AccountOutcome::TokenRevoked { prefix, .. } => {
                writeln!(f, "token {prefix} was already revoked")
            }
        }
    }
}

pub fn user_add(
    config: &Config,
    name: &str,
    superuser: bool,
    password: Option<&str>,
) -> Result<AccountOutcome, CommandError> {
    let change = accounts::add_user(&mut platform_connection(config)?, name, superuser, password)?;
    Ok(AccountOutcome::UserSaved {
        name: name.to_string(),
        change,
    })
}

pub fn user_set_active(
    config: &Config,
    name: &str,
    active: bool,
) -> Result<AccountOutcome, CommandError> {
    let change = accounts::set_user_active(&mut platform_connection(config)?, name, active)?;
    Ok(AccountOutcome::UserActive {
        name: name.to_string(),
        active,
        change,
    })
}

pub fn grant(
    config: &Config,
    user: &str,
    project: &str,
    role: Role,
) -> Result<AccountOutcome, CommandError> {
    let change = accounts::grant(&mut platform_connection(config)?, user, project, role)?;
    Ok(AccountOutcome::Granted {
        user: user.to_string(),
        project: project.to_string(),
        role,
        change,
    })
}

pub fn revoke(config: &Config, user: &str, project: &str) -> Result<AccountOutcome, CommandError> {
    let change = accounts::revoke(&mut platform_connection(config)?, user, project)?;
    Ok(AccountOutcome::Revoked {
        user: user.to_string(),
        project: project.to_string(),
        change,
    })
}

pub fn token_create(
    config: &Config,
    user: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> Result<AccountOutcome, CommandError> {
    let token = accounts::create_token(
        &mut platform_connection(config)?,
        user,
        name,
        expires_in_days,
    )?;
    Ok(AccountOutcome::TokenCreated(token))
}

pub fn token_list(config: &Config, user: &str) -> Result<AccountOutcome, CommandError> {
    Ok(AccountOutcome::TokensListed(accounts::list_tokens(
        &mut platform_connection(config)?,
        user,
    )?))
}

pub fn token_revoke(config: &Config, prefix: &str) -> Result<AccountOutcome, CommandError> {
    let change = accounts::revoke_token(&mut platform_connection(config)?, prefix)?;
    Ok(AccountOutcome::TokenRevoked {
        prefix: prefix.to_string(),
        change,
    })
}

/// A fixture command's outcome.
pub enum FixturesOutcome {
    Loaded {
        rows: usize,
        project: String,
    },
    /// Every row but the version table's, in fixture format.
    Dumped(serde_json::Value),
}

impl fmt::Display for FixturesOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixturesOutcome::Loaded { rows, project } => {
                writeln!(f, "loaded {rows} rows into {project}")
            }
            FixturesOutcome::Dumped(document) => writeln!(
                f,
                "{}",
                serde_json::to_string_pretty(document).expect("JSON serializes")
            ),
        }
    }
}

/// A connection to a registered project's database, checked to record the structure version
/// this build serves (fixtures fit only that structure).
fn project_database(
    api: &'static GeneratedApi,
    config: &Config,
    project: &str,
) -> Result<DbConnection, CommandError> {
    let url = platform::list_projects(&mut platform_connection(config)?)?
        .into_iter()
        .find(|candidate| candidate.name == project)
        .map(|found| api.project_url(&found.database_url))
        .ok_or_else(|| failed(format!("no project named {project}")))?;
    let mut connection = url
        .open_existing()
        .map_err(|error| failed(format!("cannot open project {project}'s database: {error}")))?;
    let health = judge(&mut connection, &api.served_version());
    if health != Health::Ok {
        return Err(failed(format!(
            "project {project}: {}; fixtures fit only the structure this build serves",
            health.status()
        )));
    }
    Ok(connection)
}

pub fn fixtures_load(
    api: &'static GeneratedApi,
    config: &Config,
    project: &str,
    file: &Path,
) -> Result<FixturesOutcome, CommandError> {
    let mut connection = project_database(api, config, project)?;
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|error| failed(format!("cannot read {name}: {error}")))?;
    let fixtures = tenantapi_runtime::fixtures::parse(&name, &text, api.tables)
        .map_err(|error| failed(error.to_string()))?;
    let progress = crate::progress::bar(fixtures.row_count() as u64, "rows");
    progress.set_message(format!("loading into {project}"));
    let loaded = tenantapi_runtime::fixtures::load_with_progress(
        &mut connection,
        &fixtures,
        &name,
        &mut |inserted| progress.set_position(inserted as u64),
    );
    progress.finish_and_clear();
    let rows = loaded.map_err(|error| failed(error.to_string()))?;
    Ok(FixturesOutcome::Loaded {
        rows,
        project: project.to_string(),
    })
}

pub fn fixtures_dump(
    api: &'static GeneratedApi,
    config: &Config,
    project: &str,
) -> Result<FixturesOutcome, CommandError> {
    let mut connection = project_database(api, config, project)?;
    let progress = crate::progress::bar(api.row_readers.len() as u64, "tables");
    let document = tenantapi_runtime::fixtures::dump_with_progress(
        &mut connection,
        api.row_readers,
        &[api.version_table],
        &mut |table| {
            progress.set_message(format!("reading {table}"));
            progress.inc(1);
        },
    );
    progress.finish_and_clear();
    let document =
        document.map_err(|error| failed(format!("reading project {project} failed: {error}")))?;
    Ok(FixturesOutcome::Dumped(document))
}

/// How `check` prints its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
}

/// `check`'s rows, printed in the chosen format; the exit code follows from them.
pub struct CheckReport {
    pub rows: Vec<CheckRow>,
    pub format: CheckFormat,
}

impl CheckReport {
    /// 0: every project matches; 1: a mismatch or drift; 2: a project unreachable.
    pub fn exit_code(&self) -> u8 {
        check::exit_code(&self.rows)
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            CheckFormat::Json => writeln!(
                f,
                "{}",
                serde_json::to_string_pretty(&self.rows).expect("rows serialize")
            ),
            CheckFormat::Table => f.write_str(&check::render_table(&self.rows)),
        }
    }
}

/// `check` over every enabled project, or over one database given by URL. An error here (the
/// platform database cannot be read) exits 2, like an unreachable project.
pub fn check(
    api: &'static GeneratedApi,
    config: &Config,
    database_url: Option<String>,
    structure: bool,
    format: CheckFormat,
    timeout: Duration,
) -> Result<CheckReport, CommandError> {
    let projects = match database_url {
        Some(url) => vec![("(--database-url)".to_string(), url)],
        None => platform::enabled_projects(&mut platform_connection(config)?)?
            .into_iter()
            .map(|project| (project.name, project.database_url))
            .collect(),
    };
    let progress = crate::progress::bar(projects.len() as u64, "projects");
    progress.set_message("checking");
    let rows = check::check_projects(api, projects, timeout, structure, &|row| {
        progress.set_message(format!("checked {}", row.project));
        progress.inc(1);
    });
    progress.finish_and_clear();
    Ok(CheckReport { rows, format })
}

/// What to do when the reference database records no structure version where introspection
/// looks: the server serves a database only while it records the version its code was
/// generated for (README, "Structure versions"), so the description needs one.
fn no_version(
    table: &str,
    column: &str,
    error: &tenantapi_runtime::version::VersionError,
) -> String {
    use tenantapi_runtime::version::VersionError;
    use tenantapi_schema::sql::{insert_version, quote_identifier};
    let insert = insert_version(table, column, "1");
    let fix = match error {
        VersionError::Unreadable(_) => format!(
            "record one in the database (its migrations then keep it), and introspect again:\n\
             \x20   CREATE TABLE {} ({} varchar(64) PRIMARY KEY);\n\
             \x20   {insert};\n\
             or, if the database records its version elsewhere, name that table and column with \
             --version-table and --version-column",
            quote_identifier(table),
            quote_identifier(column)
        ),
        VersionError::NoRow => {
            format!("record the version in it, and introspect again:\n    {insert};")
        }
        VersionError::SeveralRows(_) => format!(
            "keep exactly one row in {}, the current version, and introspect again",
            quote_identifier(table)
        ),
    };
    format!(
        "{table}.{column}: {error}.\n\
         tenantapi serves a database only while it records, in one row, the structure version its \
         code was generated for (README, \"Structure versions\"); {fix}"
    )
}

/// `introspect`: a description read from a live reference database (on PostgreSQL, from
/// `postgres_schema`, by default the connection's first schema).
pub fn introspect(
    database_url: &str,
    version_table: &str,
    version_column: &str,
    postgres_schema: Option<&str>,
    skip_unsupported: bool,
) -> Result<introspect::Introspection, CommandError> {
    let url = DatabaseUrl::new(database_url).with_search_path(postgres_schema);
    let mut connection = url
        .open_existing()
        .map_err(|error| failed(format!("cannot open the reference database: {error}")))?;
    let select_sql = tenantapi_schema::sql::select_version(version_table, version_column);
    let found = tenantapi_runtime::version::read_version(&mut connection, &select_sql, false)
        .map_err(|error| failed(no_version(version_table, version_column, &error)))?;
    introspect::live_structure(&mut connection)
        .map_err(|error| failed(error.to_string()))
        .and_then(|live| {
            introspect::render_description(
                &live,
                &found,
                version_table,
                version_column,
                postgres_schema,
                skip_unsupported,
            )
            .map_err(failed)
        })
}
