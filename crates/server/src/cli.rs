//! The `tenantapi` command line: clap types and dispatch, for any generated API (the
//! `tenantapi` binary passes the one built from `schema/project.toml`). Each command's work is
//! in `commands`, `serve` and `demo`, and returns what this file prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::db::BackendKind;

use crate::accounts::Role;
use crate::commands::{self, AccountOutcome, CheckFormat, CommandError, ProjectOutcome};
use crate::config::{Config, ConfigError};
use crate::platform::{LimitChange, ProjectLimitsChange};
use crate::{demo, serve};

#[derive(Parser)]
#[command(
    name = "tenantapi",
    about = "One CRUD REST API for many project databases of one structure"
)]
struct Cli {
    /// TOML configuration file; every setting can also be set by a TENANTAPI_* environment variable.
    #[arg(long, global = true, env = "TENANTAPI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API of every enabled project.
    Serve {
        /// Address to listen on (overrides the configuration).
        #[arg(long)]
        bind: Option<String>,
        /// Refuse to start (exit 1, one line per project) if any enabled project's database
        /// does not record the structure version this build serves.
        #[arg(long)]
        strict: bool,
    },
    /// Apply pending platform database migrations.
    Migrate,
    /// Manage the projects the server serves.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API users.
    #[command(subcommand)]
    User(UserCommand),
    /// Give a user read or write access to a project (idempotent; changes an existing role).
    Grant {
        user: String,
        project: String,
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Take a user's access to a project away (idempotent).
    Revoke { user: String, project: String },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Load or dump a project database's rows in fixture format (JSON, explicit keys).
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Check that every enabled project database records a structure version this build
    /// serves, and summarize the rollout (projects by version). Exit 0: all served; 1: some not
    /// served (or drifted, or with --require-newest on an older version), named; 2: unreachable,
    /// or a bad configuration.
    Check {
        /// Check this one database instead of the platform database's projects.
        #[arg(long)]
        database_url: Option<String>,
        /// Also compare each live structure with the description of the version it records
        /// (tables, columns, types, nullability, keys, uniques) and report every difference.
        #[arg(long)]
        structure: bool,
        /// Require the newest version everywhere: a project served at an older one fails the
        /// check (run it before dropping a description from schema/previous/).
        #[arg(long)]
        require_newest: bool,
        #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
        format: CheckFormat,
        /// Seconds each project may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Print a schema description read from a live reference database.
    Introspect {
        #[arg(long)]
        database_url: String,
        /// Table and column where the database records its structure version.
        #[arg(long, default_value = "schema_version")]
        version_table: String,
        #[arg(long, default_value = "version")]
        version_column: String,
        /// Write the description here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The PostgreSQL schema to describe (default: the connection's first, `public`); several,
        /// comma-separated (`--schema store,sales`): the first is the description's own, the
        /// tables of the others get `postgres_schema`.
        #[arg(long, value_delimiter = ',')]
        schema: Vec<String>,
        /// Leave out (with `ignore_columns` and a comment each) the columns whose type the
        /// description format cannot express, instead of serving them read-only as text.
        #[arg(long)]
        skip_unsupported: bool,
    },
    /// Print the DDL that creates the described structure, with its structure-version record.
    Ddl {
        #[arg(long, value_enum)]
        backend: DdlBackend,
        /// An older served version's structure instead of the newest's.
        #[arg(long)]
        structure_version: Option<String>,
    },
    /// Print a shell completion script (e.g. `tenantapi completions bash >
    /// /etc/bash_completion.d/tenantapi`).
    Completions { shell: clap_complete::Shell },
    /// Create two SQLite demo projects with sample rows under a data directory and serve them.
    Demo {
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8000")]
        bind: String,
    },
}

/// The database engines `ddl` writes for.
#[derive(Clone, Copy, clap::ValueEnum)]
enum DdlBackend {
    Postgres,
    Sqlite,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Register a project database (idempotent).
    Add {
        name: String,
        /// `postgres://user@host/db` or a SQLite file path.
        #[arg(long)]
        database_url: String,
    },
    /// Create a new database (a SQLite file or a PostgreSQL database, which must not exist
    /// yet), create the structure in it, record the structure version and register it as a
    /// project. For development, demos and tests: in production the system that owns the
    /// structure creates the databases. Refuses, changing nothing, if either exists.
    Create {
        name: String,
        /// `postgres://user@host/new_database` or a new SQLite file path.
        #[arg(long)]
        database_url: String,
        /// Create it at an older served version (schema/previous/) instead of the newest.
        #[arg(long)]
        structure_version: Option<String>,
    },
    /// Point a project at another database URL (e.g. through PgBouncer); running servers
    /// reopen its connections within `refresh_seconds`, keeping its grants.
    SetUrl {
        name: String,
        #[arg(long)]
        database_url: String,
    },
    /// List projects, with passwords in URLs hidden, and their own limits.
    List,
    /// Set a project's rate limit and its cap on database work in flight, over the
    /// configuration's defaults; running servers apply them within `refresh_seconds`.
    SetLimits {
        name: String,
        #[command(flatten)]
        rate: RateArgs,
        /// Requests of the project running database work at once (at most `pool.max_size`);
        /// `default`: `pool.max_size`.
        #[arg(long, value_parser = limit_count)]
        max_in_flight: Option<LimitChange<i32>>,
    },
    Enable {
        name: String,
    },
    Disable {
        name: String,
    },
    /// Forget a project (its database is not touched).
    Remove {
        name: String,
    },
}

/// A rate limit's token bucket, as `set-limits` takes it.
#[derive(clap::Args)]
struct RateArgs {
    /// Requests per second: `200`, `0.5`, `200/s`, or per minute, hour or day (`100/min`,
    /// `1000/hour`); `0`: no limit; `default`: the configuration's.
    #[arg(long, value_parser = limit_rate)]
    rate: Option<LimitChange<f64>>,
    /// Requests let through at once after a quiet spell (default: one second's worth);
    /// `default`: the configuration's.
    #[arg(long, value_parser = limit_count)]
    burst: Option<LimitChange<i32>>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (idempotent; updates the superuser flag and, with --password-stdin, the password).
    Add {
        name: String,
        /// Every project, read and write.
        #[arg(long)]
        superuser: bool,
        /// Read a password for HTTP Basic from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Refuse the user's credentials from now on (within auth.cache_seconds on running servers).
    Disable {
        name: String,
    },
    /// Set a user's rate limit (all their projects together) over the configuration's default;
    /// running servers apply it within `auth.cache_seconds`.
    SetLimits {
        name: String,
        #[command(flatten)]
        rate: RateArgs,
    },
    Enable {
        name: String,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Insert the rows of FILE into the project's database, in one transaction, referenced
    /// tables first; PostgreSQL key sequences are moved past the explicit keys.
    Load {
        #[arg(long)]
        project: String,
        file: PathBuf,
    },
    /// Print every row of the project's database as a fixture file.
    Dump {
        #[arg(long)]
        project: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it: it is shown this once and stored only as a hash.
    Create {
        user: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// Days until the token expires; without it, it never does.
        #[arg(long)]
        expires_in: Option<u32>,
    },
    /// List a user's tokens by prefix (never the tokens themselves).
    List { user: String },
    /// Revoke a token, named by the prefix `token list` shows.
    Revoke { prefix: String },
}

/// Parses the command line and runs the command, serving `api`.
pub fn run(api: &'static GeneratedApi) -> ExitCode {
    // The version names the structure this build serves, which only the caller knows.
    let command = Cli::command().version(format!(
        "{} (structure versions {})",
        env!("CARGO_PKG_VERSION"),
        api.served_versions_text()
    ));
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };

    // Completions and the DDL work before any configuration exists (a broken one included).
    let needs_configuration = !matches!(
        cli.command,
        Command::Completions { .. } | Command::Ddl { .. }
    );
    let mut config = if needs_configuration {
        match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
            Ok(config) => config,
            Err(error) => return fail_config(error),
        }
    } else {
        Config::default()
    };
    crate::logging::init(config.log_format);
    match cli.command {
        Command::Serve { bind, strict } => {
            if let Some(bind) = bind {
                config.bind = bind;
            }
            run_server(api, config, strict)
        }
        Command::Migrate => print(commands::migrate(&config)),
        Command::Project(command) => print(project_command(api, &config, command)),
        Command::User(command) => match user_command(&config, command) {
            Ok(outcome) => print(outcome),
            Err(error) => fail(error),
        },
        Command::Grant {
            user,
            project,
            role,
        } => print(commands::grant(&config, &user, &project, role)),
        Command::Revoke { user, project } => print(commands::revoke(&config, &user, &project)),
        Command::Token(command) => print(match command {
            TokenCommand::Create {
                user,
                name,
                expires_in,
            } => commands::token_create(&config, &user, &name, expires_in),
            TokenCommand::List { user } => commands::token_list(&config, &user),
            TokenCommand::Revoke { prefix } => commands::token_revoke(&config, &prefix),
        }),
        Command::Fixtures(command) => print(match command {
            FixturesCommand::Load { project, file } => {
                commands::fixtures_load(api, &config, &project, &file)
            }
            FixturesCommand::Dump { project } => commands::fixtures_dump(api, &config, &project),
        }),
        Command::Check {
            database_url,
            structure,
            require_newest,
            format,
            timeout,
        } => check(
            api,
            &config,
            database_url,
            crate::check::CheckOptions {
                structure,
                require_newest,
            },
            format,
            timeout,
        ),
        Command::Introspect {
            database_url,
            version_table,
            version_column,
            out,
            schema,
            skip_unsupported,
        } => introspect(
            &database_url,
            &version_table,
            &version_column,
            out,
            &schema,
            skip_unsupported,
        ),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tenantapi",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Ddl {
            backend,
            structure_version,
        } => {
            let backend = match backend {
                DdlBackend::Postgres => BackendKind::Postgres,
                DdlBackend::Sqlite => BackendKind::Sqlite,
            };
            match commands::served_version(api, structure_version.as_deref()) {
                Ok(api) => {
                    print!("{}", crate::create_database::ddl_script(api, backend));
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Demo { data_dir, bind } => demo(api, config, &data_dir, bind),
    }
}

/// `project ...`.
fn project_command(
    api: &'static GeneratedApi,
    config: &Config,
    command: ProjectCommand,
) -> Result<ProjectOutcome, CommandError> {
    match command {
        ProjectCommand::Add { name, database_url } => {
            commands::project_add(config, &name, &database_url)
        }
        ProjectCommand::Create {
            name,
            database_url,
            structure_version,
        } => commands::project_create(
            commands::served_version(api, structure_version.as_deref())?,
            config,
            &name,
            &database_url,
        ),
        ProjectCommand::SetUrl { name, database_url } => {
            commands::project_set_url(config, &name, &database_url)
        }
        ProjectCommand::List => commands::project_list(config),
        ProjectCommand::SetLimits {
            name,
            rate,
            max_in_flight,
        } => commands::project_set_limits(
            config,
            &name,
            ProjectLimitsChange {
                rate_per_second: rate.rate.unwrap_or(LimitChange::Keep),
                rate_burst: rate.burst.unwrap_or(LimitChange::Keep),
                max_in_flight: max_in_flight.unwrap_or(LimitChange::Keep),
            },
        ),
        ProjectCommand::Enable { name } => commands::project_set_enabled(config, &name, true),
        ProjectCommand::Disable { name } => commands::project_set_enabled(config, &name, false),
        ProjectCommand::Remove { name } => commands::project_remove(config, &name),
    }
}

/// `user ...`; `Err` when a password could not be read from standard input.
fn user_command(
    config: &Config,
    command: UserCommand,
) -> Result<Result<AccountOutcome, CommandError>, String> {
    match command {
        UserCommand::Add {
            name,
            superuser,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            Ok(commands::user_add(
                config,
                &name,
                superuser,
                password.as_deref(),
            ))
        }
        UserCommand::Disable { name } => Ok(commands::user_set_active(config, &name, false)),
        UserCommand::Enable { name } => Ok(commands::user_set_active(config, &name, true)),
        UserCommand::SetLimits { name, rate } => Ok(commands::user_set_limits(
            config,
            &name,
            rate.rate.unwrap_or(LimitChange::Keep),
            rate.burst.unwrap_or(LimitChange::Keep),
        )),
    }
}

/// `check`: exit 0 when every project is served, 1 when some is not, 2 when it cannot tell.
fn check(
    api: &'static GeneratedApi,
    config: &Config,
    database_url: Option<String>,
    options: crate::check::CheckOptions,
    format: CheckFormat,
    timeout: u64,
) -> ExitCode {
    let timeout = Duration::from_secs(timeout.max(1));
    match commands::check(api, config, database_url, options, format, timeout) {
        Ok(report) => {
            print!("{report}");
            ExitCode::from(report.exit_code())
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// `introspect`: the description of a live database, to a file or standard output.
fn introspect(
    database_url: &str,
    version_table: &str,
    version_column: &str,
    out: Option<PathBuf>,
    schema: &[String],
    skip_unsupported: bool,
) -> ExitCode {
    let schemas: Vec<&str> = schema.iter().map(String::as_str).collect();
    let introspection = match commands::introspect(
        database_url,
        version_table,
        version_column,
        &schemas,
        skip_unsupported,
    ) {
        Ok(introspection) => introspection,
        Err(error) => return fail(error),
    };
    for notice in &introspection.notices {
        eprintln!("note: {notice}");
    }
    let text = introspection.text;
    match out {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(format!("cannot write {}: {error}", path.display())),
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

/// `demo`: sample projects and a user, then the server.
fn demo(api: &'static GeneratedApi, mut config: Config, data_dir: &Path, bind: String) -> ExitCode {
    let setup = match demo::prepare(api, data_dir) {
        Ok(setup) => setup,
        Err(error) => return fail(error),
    };
    config.platform_database_url = setup.platform_database_url;
    config.bind = bind;
    println!(
        "demo projects {} in {}; user {} may write acme and read globex; try:",
        setup.projects.join(" and "),
        data_dir.display(),
        demo::DEMO_USER
    );
    for line in demo::curl_lines(&format!("http://{}", config.bind), &setup.token) {
        println!("  {line}");
    }
    run_server(api, config, false)
}

/// Prints a command's outcome, or its error on stderr with exit 1.
fn print(outcome: Result<impl std::fmt::Display, commands::CommandError>) -> ExitCode {
    match outcome {
        Ok(outcome) => {
            print!("{outcome}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

/// The first line of standard input, for `user add --password-stdin`.
fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password from standard input: {error}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn run_server(api: &'static GeneratedApi, config: Config, strict: bool) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(serve::serve(api, config, strict));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn fail_config(error: ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

/// `--rate`: `default`, or a rate as [`crate::throttle::parse_rate`] reads it.
fn limit_rate(text: &str) -> Result<LimitChange<f64>, String> {
    if text == "default" {
        return Ok(LimitChange::Default);
    }
    crate::throttle::parse_rate(text).map(LimitChange::Set)
}

/// `--burst`, `--max-in-flight`: `default`, or a whole number of at least 1.
fn limit_count(text: &str) -> Result<LimitChange<i32>, String> {
    if text == "default" {
        return Ok(LimitChange::Default);
    }
    match text.parse::<i32>() {
        Ok(count) if count >= 1 => Ok(LimitChange::Set(count)),
        _ => Err(format!(
            "invalid number {text:?}: a whole number of at least 1, or `default`"
        )),
    }
}
