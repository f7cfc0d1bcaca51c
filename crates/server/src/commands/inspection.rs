//! The commands that read databases rather than the platform's records: `fixtures load/dump`,
//! `check` and `introspect`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::database_url::DatabaseUrl;
use tenantapi_runtime::connections::db::DbConnection;

use super::{CommandError, failed, platform_connection};
use crate::check::{self, CheckRow};
use crate::config::Config;
use crate::health::judge;
use crate::introspect;
use crate::platform;

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

/// A connection to a registered project's database, checked to record a structure version
/// this build serves, with that version's API (fixtures fit only a served structure).
fn project_database(
    api: &'static GeneratedApi,
    config: &Config,
    project: &str,
) -> Result<(DbConnection, &'static GeneratedApi), CommandError> {
    let url = platform::list_projects(&mut platform_connection(config)?)?
        .into_iter()
        .find(|candidate| candidate.name == project)
        .map(|found| api.project_url(&found.database_url))
        .ok_or_else(|| failed(format!("no project named {project}")))?;
    let mut connection = url
        .open_existing()
        .map_err(|error| failed(format!("cannot open project {project}'s database: {error}")))?;
    let health = judge(&mut connection, api);
    let Some(served) = health
        .served_version()
        .and_then(|version| api.at_version(version))
    else {
        return Err(failed(format!(
            "project {project}: {}; fixtures fit only a structure this build serves ({})",
            health.status(),
            api.served_versions_text()
        )));
    };
    Ok((connection, served))
}

pub fn fixtures_load(
    api: &'static GeneratedApi,
    config: &Config,
    project: &str,
    file: &Path,
) -> Result<FixturesOutcome, CommandError> {
    let (mut connection, api) = project_database(api, config, project)?;
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|error| failed(format!("cannot read {name}: {error}")))?;
    let fixtures = tenantapi_runtime::data::fixtures::parse(
        &name,
        &text,
        &api.table_metas().collect::<Vec<_>>(),
    )
    .map_err(|error| failed(error.to_string()))?;
    let progress = crate::progress::bar(fixtures.row_count() as u64, "rows");
    progress.set_message(format!("loading into {project}"));
    let loaded = tenantapi_runtime::data::fixtures::load_with_progress(
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
    let (mut connection, api) = project_database(api, config, project)?;
    let progress = crate::progress::bar(api.tables.len() as u64, "tables");
    let document = tenantapi_runtime::data::fixtures::dump_with_progress(
        &mut connection,
        api.tables,
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
    options: check::CheckOptions,
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
    let rows = check::check_projects(api, projects, timeout, options, &|row| {
        progress.set_message(format!("checked {}", row.project));
        progress.inc(1);
    });
    progress.finish_and_clear();
    Ok(CheckReport { rows, format })
}

/// What to do when the reference database records no structure version where introspection
/// looks: the server serves a database only while it records the version its code was
/// generated for (docs/operators.md, "Structure versions"), so the description needs one.
fn no_version(
    table: &str,
    column: &str,
    error: &tenantapi_runtime::connections::version::VersionError,
) -> String {
    use tenantapi_runtime::connections::version::VersionError;
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
         code was generated for (docs/operators.md, \"Structure versions\"); {fix}"
    )
}

/// `introspect`: a description read from a live reference database (on PostgreSQL, from
/// `postgres_schemas`, the first the description's own; by default the connection's first
/// schema).
pub fn introspect(
    database_url: &str,
    version_table: &str,
    version_column: &str,
    postgres_schemas: &[&str],
    skip_unsupported: bool,
) -> Result<introspect::Introspection, CommandError> {
    let url = DatabaseUrl::new(database_url).with_search_path(postgres_schemas);
    let mut connection = url
        .open_existing()
        .map_err(|error| failed(format!("cannot open the reference database: {error}")))?;
    let select_sql = tenantapi_schema::sql::select_version(version_table, version_column);
    let found =
        tenantapi_runtime::connections::version::read_version(&mut connection, &select_sql, false)
            .map_err(|error| failed(no_version(version_table, version_column, &error)))?;
    introspect::live_structure(
        &mut connection,
        postgres_schemas.get(1..).unwrap_or_default(),
    )
    .map_err(|error| failed(error.to_string()))
    .and_then(|live| {
        introspect::render_description(
            &live,
            &found,
            version_table,
            version_column,
            postgres_schemas.first().copied(),
            skip_unsupported,
        )
        .map_err(failed)
    })
}
