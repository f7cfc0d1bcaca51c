//! The work of each administration command of the `tenantapi` binary: every function takes the
//! configuration and the command's arguments and returns a typed outcome whose `Display` is
//! what the command prints, or a [`CommandError`] (one line on stderr, exit 1).

use std::fmt;

use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::database_url::DatabaseUrl;
use tenantapi_runtime::connections::db::DbConnection;

use crate::accounts::{self, AccountError, Change, Role, TokenInfo};
use crate::config::Config;
use crate::create_database;
use crate::platform::{self, PlatformError, Project};

/// Why a command failed; the message is what the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Create(#[from] create_database::CreateError),
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
    /// `project set-limits`: the project's own limits after the change.
    LimitsSet {
        name: String,
        limits: platform::ProjectLimits,
    },
}

/// A stored limit as the commands show it.
fn shown<T: fmt::Display>(value: Option<T>, unit: &str) -> String {
    match value {
        Some(value) => format!("{value}{unit}"),
        None => "default".to_string(),
    }
}

/// A stored rate as the commands show it: `none` for 0 (no limit).
fn shown_rate(rate: Option<f64>) -> String {
    match rate {
        Some(rate) if rate <= 0.0 => "none".to_string(),
        other => shown(other, "/s"),
    }
}

/// A project's own limits as `project list` and `project set-limits` show them.
fn project_limits_text(limits: &platform::ProjectLimits) -> String {
    format!(
        "rate {}, burst {}, max in flight {}",
        shown_rate(limits.rate_per_second),
        shown(limits.rate_burst, ""),
        shown(limits.max_in_flight, "")
    )
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
                    write!(
                        f,
                        "{}\t{state}\t{}",
                        project.name,
                        DatabaseUrl::new(project.database_url.as_str())
                    )?;
                    // Only a project with limits of its own has a fourth column.
                    if project.limits != platform::ProjectLimits::default() {
                        write!(f, "\tlimits: {}", project_limits_text(&project.limits))?;
                    }
                    writeln!(f)?;
                }
                Ok(())
            }
            ProjectOutcome::LimitsSet { name, limits } => {
                writeln!(f, "limits of {name}: {}", project_limits_text(limits))
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
/// The API of `version` (`None`: the newest), or an error naming the versions this build serves.
pub fn served_version(
    api: &'static GeneratedApi,
    version: Option<&str>,
) -> Result<&'static GeneratedApi, CommandError> {
    match version {
        None => Ok(api),
        Some(version) => api.at_version(version).ok_or_else(|| {
            failed(format!(
                "--structure-version {version}: this build serves no such version; it serves {}",
                api.served_versions_text()
            ))
        }),
    }
}

/// Creates a project database at `api`'s version (the newest, or one of `served_version`).
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
    let created = create_database::create_database(api, &DatabaseUrl::new(database_url))?;
    let database = create_database::describe(&created);
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

pub fn project_set_limits(
    config: &Config,
    name: &str,
    change: platform::ProjectLimitsChange,
) -> Result<ProjectOutcome, CommandError> {
    let unchanged = platform::ProjectLimitsChange {
        rate_per_second: platform::LimitChange::Keep,
        rate_burst: platform::LimitChange::Keep,
        max_in_flight: platform::LimitChange::Keep,
    };
    if change == unchanged {
        return Err(failed(
            "nothing to change: give --rate, --burst or --max-in-flight (a value, or `default`)",
        ));
    }
    if let platform::LimitChange::Set(cap) = change.max_in_flight
        && cap as u64 > u64::from(config.pool.max_size)
    {
        return Err(failed(format!(
            "--max-in-flight {cap} is more than pool.max_size ({}): a project never has more \
             work in flight than connections",
            config.pool.max_size
        )));
    }
    let limits = platform::set_project_limits(&mut platform_connection(config)?, name, change)?;
    Ok(ProjectOutcome::LimitsSet {
        name: name.to_string(),
        limits,
    })
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
    /// `user set-limits`: the user's own limits after the change.
    UserLimitsSet {
        name: String,
        limits: accounts::UserLimits,
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
            AccountOutcome::UserLimitsSet { name, limits } => writeln!(
                f,
                "limits of user {name}: rate {}, burst {}",
                shown_rate(limits.rate_per_second),
                shown(limits.rate_burst, "")
            ),
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

pub fn user_set_limits(
    config: &Config,
    name: &str,
    rate_per_second: platform::LimitChange<f64>,
    rate_burst: platform::LimitChange<i32>,
) -> Result<AccountOutcome, CommandError> {
    if (rate_per_second, rate_burst) == (platform::LimitChange::Keep, platform::LimitChange::Keep) {
        return Err(failed(
            "nothing to change: give --rate or --burst (a value, or `default`)",
        ));
    }
    let limits = accounts::set_user_limits(
        &mut platform_connection(config)?,
        name,
        rate_per_second,
        rate_burst,
    )?;
    Ok(AccountOutcome::UserLimitsSet {
        name: name.to_string(),
        limits,
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

mod inspection;
pub use inspection::{
    CheckFormat, CheckReport, FixturesOutcome, check, fixtures_dump, fixtures_load, introspect,
};
