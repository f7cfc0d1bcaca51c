//! The `tenantapi` command: serve the API, manage the platform database's projects, run the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenantapi_server::accounts::{self, Change, Role};
use tenantapi_server::config::{Config, ConfigError};
use tenantapi_server::{demo, platform, serve};

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
        Command::Serve { .. } | Command::Migrate | Command::Project(_) | Command::Demo { .. } => {
            unreachable!("not an account command")
        }
    };
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
