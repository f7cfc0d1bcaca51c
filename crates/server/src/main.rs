//! The `tenantapi` command: serve the API, manage the platform database's projects, run the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenantapi_server::accounts::{self, Change, Role};
use tenantapi_server::config::{Config, ConfigError};
use tenantapi_server::{check, demo, introspect, platform, serve};

#[derive(Parser)]
#[command(
    name = "tenantapi",
    version,
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
        #[arg(long, value_parser = ["read", "write"])]
        role: String,
    },
    /// Take a user's access to a project away (idempotent).
    Revoke { user: String, project: String },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Load or dump a project database's rows in fixture format (JSON, explicit keys).
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Check that every enabled project database records the structure version this build
    /// serves. Exit 0: all match; 1: a mismatch (or drift); 2: unreachable, or a bad configuration.
    Check {
        /// Check this one database instead of the platform database's projects.
        #[arg(long)]
        database_url: Option<String>,
        /// Also compare each live structure with the description (tables, columns, types,
        /// nullability, keys, uniques) and report every difference.
        #[arg(long)]
        structure: bool,
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
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
    },
    /// Create two SQLite demo projects with sample rows under a data directory and serve them.
    Demo {
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8000")]
        bind: String,
    },
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
    /// List projects, with passwords in URLs hidden.
    List,
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

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => return fail_config(error),
    };
    match cli.command {
        Command::Serve { bind, strict } => {
            let mut config = config;
            if let Some(bind) = bind {
                config.bind = bind;
            }
            run_server(config, strict)
        }
        Command::Migrate => match platform::open_and_migrate(&config.platform_database_url) {
            Ok((_, applied)) if applied.is_empty() => {
                println!("platform database is up to date");
                ExitCode::SUCCESS
            }
            Ok((_, applied)) => {
                for migration in applied {
                    println!("applied {migration}");
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(error),
        },
        Command::Project(command) => project_command(&config, command),
        Command::Fixtures(command) => fixtures_command(&config, command),
        Command::Check {
            database_url,
            structure,
            format,
            timeout,
        } => check_command(&config, database_url, structure, &format, timeout),
        Command::Introspect {
            database_url,
            version_table,
            version_column,
            out,
        } => introspect_command(
            &database_url,
            &version_table,
            &version_column,
            out.as_deref(),
        ),
        Command::User(_) | Command::Grant { .. } | Command::Revoke { .. } | Command::Token(_) => {
            account_command(&config, cli.command)
        }
        Command::Demo { data_dir, bind } => {
            let setup = match demo::prepare(&data_dir) {
                Ok(setup) => setup,
                Err(error) => return fail(error),
            };
            let mut config = config;
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
            run_server(config, false)
        }
    }
}

fn run_server(config: Config, strict: bool) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(serve::serve(config, strict));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn project_command(config: &Config, command: ProjectCommand) -> ExitCode {
    let mut connection = match platform::open_and_migrate(&config.platform_database_url) {
        Ok((connection, _)) => connection,
        Err(error) => return fail(error),
    };
    let result = match command {
        ProjectCommand::Add { name, database_url } => {
            platform::add_project(&mut connection, &name, &database_url).map(
                |outcome| match outcome {
                    platform::AddOutcome::Added => println!("added project {name}"),
                    platform::AddOutcome::AlreadyPresent => {
                        println!("project {name} already exists with this database URL")
                    }
                },
            )
        }
        ProjectCommand::List => platform::list_projects(&mut connection).map(|projects| {
            for project in projects {
                let state = if project.enabled {
                    "enabled"
                } else {
                    "disabled"
                };
                println!(
                    "{}\t{state}\t{}",
                    project.name,
                    platform::redact_url(&project.database_url)
                );
            }
        }),
        ProjectCommand::Enable { name } => {
            platform::set_enabled(&mut connection, &name, true).map(|()| println!("enabled {name}"))
        }
        ProjectCommand::Disable { name } => platform::set_enabled(&mut connection, &name, false)
            .map(|()| println!("disabled {name}")),
        ProjectCommand::Remove { name } => {
            platform::remove_project(&mut connection, &name).map(|()| println!("removed {name}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn account_command(config: &Config, command: Command) -> ExitCode {
    let mut connection = match platform::open_and_migrate(&config.platform_database_url) {
        Ok((connection, _)) => connection,
        Err(error) => return fail(error),
    };
    let said = |change: Change, made: String, already: String| {
        println!(
            "{}",
            if change == Change::Made {
                made
            } else {
                already
            }
        );
    };
    let result = match command {
        Command::User(UserCommand::Add {
            name,
            superuser,
            password_stdin,
        }) => {
            let password = if password_stdin {
                let mut line = String::new();
                if let Err(error) = std::io::stdin().read_line(&mut line) {
                    return fail(format!(
                        "cannot read the password from standard input: {error}"
                    ));
                }
                Some(line.trim_end_matches(['\n', '\r']).to_string())
            } else {
                None
            };
            accounts::add_user(&mut connection, &name, superuser, password.as_deref()).map(
                |change| {
                    said(
                        change,
                        format!("saved user {name}"),
                        format!("user {name} already exists as requested"),
                    )
                },
            )
        }
        Command::User(UserCommand::Disable { name }) => {
            accounts::set_user_active(&mut connection, &name, false).map(|change| {
                said(
                    change,
                    format!("disabled {name}"),
                    format!("{name} is already disabled"),
                )
            })
        }
        Command::User(UserCommand::Enable { name }) => {
            accounts::set_user_active(&mut connection, &name, true).map(|change| {
                said(
                    change,
                    format!("enabled {name}"),
                    format!("{name} is already enabled"),
                )
            })
        }
        Command::Grant {
            user,
            project,
            role,
        } => {
            let role = Role::parse(&role).expect("clap allows only read and write");
            accounts::grant(&mut connection, &user, &project, role).map(|change| {
                said(
                    change,
                    format!("{user} may now {} {project}", role.as_str()),
                    format!("{user} already has {} on {project}", role.as_str()),
                )
            })
        }
        Command::Revoke { user, project } => accounts::revoke(&mut connection, &user, &project)
            .map(|change| {
                said(
                    change,
                    format!("revoked {user} on {project}"),
                    format!("{user} had no grant on {project}"),
                )
            }),
        Command::Token(TokenCommand::Create {
            user,
            name,
            expires_in,
        }) => accounts::create_token(&mut connection, &user, &name, expires_in)
            .map(|token| println!("{token}")),
        Command::Token(TokenCommand::List { user }) => {
            accounts::list_tokens(&mut connection, &user).map(|tokens| {
                for token in tokens {
                    let state = if token.revoked {
                        "revoked".to_string()
                    } else if token
                        .expires_at
                        .is_some_and(|expiry| expiry <= accounts::now_seconds())
                    {
                        "expired".to_string()
                    } else {
                        "active".to_string()
                    };
                    let expires = token
                        .expires_at
                        .map_or("never".to_string(), |at| at.to_string());
                    let used = token
                        .last_used_at
                        .map_or("never".to_string(), |at| at.to_string());
                    println!(
                        "{}\t{}\t{state}\tcreated {}\texpires {expires}\tlast used {used}",
                        token.prefix, token.name, token.created_at
                    );
                }
            })
        }
        Command::Token(TokenCommand::Revoke { prefix }) => {
            accounts::revoke_token(&mut connection, &prefix).map(|change| {
                said(
                    change,
                    format!("revoked token {prefix}"),
                    format!("token {prefix} was already revoked"),
                )
            })
        }
        Command::Serve { .. }
        | Command::Migrate
        | Command::Project(_)
        | Command::Demo { .. }
        | Command::Check { .. }
        | Command::Fixtures(_)
        | Command::Introspect { .. } => unreachable!("not an account command"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn fixtures_command(config: &Config, command: FixturesCommand) -> ExitCode {
    let project = match &command {
        FixturesCommand::Load { project, .. } | FixturesCommand::Dump { project } => {
            project.clone()
        }
    };
    let url = platform::open_and_migrate(&config.platform_database_url)
        .and_then(|(mut connection, _)| platform::list_projects(&mut connection))
        .map(|projects| {
            projects
                .into_iter()
                .find(|candidate| candidate.name == project)
                .map(|found| found.database_url)
        });
    let url = match url {
        Ok(Some(url)) => url,
        Ok(None) => return fail(format!("no project named {project}")),
        Err(error) => return fail(error),
    };
    let mut connection = match tenantapi_runtime::db::DbConnection::open_existing(&url) {
        Ok(connection) => connection,
        Err(error) => {
            let password = tenantapi_runtime::db::url_password(&url);
            return fail(format!(
                "cannot open project {project}'s database: {}",
                tenantapi_runtime::db::redact(&error.to_string(), password.as_deref())
            ));
        }
    };
    let health =
        tenantapi_server::health::judge(&mut connection, &tenantapi_server::health::SERVED_VERSION);
    if health != tenantapi_server::health::Health::Ok {
        return fail(format!(
            "project {project}: {}; fixtures fit only the structure this build serves",
            health.status()
        ));
    }
    match command {
        FixturesCommand::Load { file, .. } => {
            let name = file.display().to_string();
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) => return fail(format!("cannot read {name}: {error}")),
            };
            let loaded =
                tenantapi_runtime::fixtures::parse(&name, &text, tenantapi_generated::TABLES)
                    .and_then(|fixtures| {
                        tenantapi_runtime::fixtures::load(&mut connection, &fixtures, &name)
                    });
            match loaded {
                Ok(rows) => {
                    println!("loaded {rows} rows into {project}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error),
            }
        }
        FixturesCommand::Dump { .. } => match tenantapi_runtime::fixtures::dump(
            &mut connection,
            tenantapi_generated::ROW_READERS,
            &[tenantapi_generated::VERSION_TABLE],
        ) {
            Ok(document) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&document).expect("JSON serializes")
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(format!("reading project {project} failed: {error}")),
        },
    }
}

fn check_command(
    config: &Config,
    database_url: Option<String>,
    structure: bool,
    format: &str,
    timeout: u64,
) -> ExitCode {
    let projects = match database_url {
        Some(url) => vec![("(--database-url)".to_string(), url)],
        None => {
            let listed = platform::open_and_migrate(&config.platform_database_url)
                .and_then(|(mut connection, _)| platform::enabled_projects(&mut connection));
            match listed {
                Ok(projects) => projects
                    .into_iter()
                    .map(|project| (project.name, project.database_url))
                    .collect(),
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let rows = check::check_projects(
        projects,
        std::time::Duration::from_secs(timeout.max(1)),
        structure,
    );
    if format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialize")
        );
    } else {
        print!("{}", check::render_table(&rows));
    }
    ExitCode::from(check::exit_code(&rows))
}

fn introspect_command(
    database_url: &str,
    version_table: &str,
    version_column: &str,
    out: Option<&std::path::Path>,
) -> ExitCode {
    let mut connection = match tenantapi_runtime::db::DbConnection::open_existing(database_url) {
        Ok(connection) => connection,
        Err(error) => {
            return fail(format!(
                "cannot open the reference database: {}",
                platform::redact_url(&error.to_string())
            ));
        }
    };
    let select_sql = tenantapi_schema::sql::select_version(version_table, version_column);
    let found = match tenantapi_runtime::version::read_version(&mut connection, &select_sql, false)
    {
        Ok(found) => found,
        Err(error) => return fail(format!("{version_table}.{version_column}: {error}")),
    };
    let described = introspect::live_structure(&mut connection)
        .map_err(|error| error.to_string())
        .and_then(|live| {
            introspect::render_description(&live, &found, version_table, version_column)
        });
    let text = match described {
        Ok(text) => text,
        Err(error) => return fail(error),
    };
    match out {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(format!("cannot write {}: {error}", path.display())),
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
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
