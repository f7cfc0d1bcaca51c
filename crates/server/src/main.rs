//! The `tenantapi` command: serve the API, manage the platform database's projects, run the demo.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
    },
    /// Apply pending platform database migrations.
    Migrate,
    /// Manage the projects the server serves.
    #[command(subcommand)]
    Project(ProjectCommand),
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

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => return fail_config(error),
    };
    match cli.command {
        Command::Serve { bind } => {
            let mut config = config;
            if let Some(bind) = bind {
                config.bind = bind;
            }
            run_server(config)
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
        Command::Demo { data_dir, bind } => {
            let setup = match demo::prepare(&data_dir) {
                Ok(setup) => setup,
                Err(error) => return fail(error),
            };
            let mut config = config;
            config.platform_database_url = setup.platform_database_url;
            config.bind = bind;
            println!(
                "demo projects {} in {}; try:",
                setup.projects.join(" and "),
                data_dir.display()
            );
            for line in demo::curl_lines(&format!("http://{}", config.bind)) {
                println!("  {line}");
            }
            run_server(config)
        }
    }
}

fn run_server(config: Config) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(serve::serve(config));
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

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn fail_config(error: ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}
