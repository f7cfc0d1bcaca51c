//! Developer commands of the workspace: `cargo xtask gen` compiles `schema/project.toml` into
//! the generated crate (and the real-world sample's description into its crate); `--check`
//! only reports whether a checked-in crate is stale.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenantapi_codegen::{GenerateJob, generate};

mod synth;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer commands of the tenantapi workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a schema description into its generated crate; without `--schema`, every
    /// description of the workspace (`schema/project.toml` into `crates/generated`, the
    /// real-world sample into `tests/realworld/generated`).
    Gen {
        /// Write nothing; exit 1 with a summary if a checked-in crate is stale.
        #[arg(long)]
        check: bool,
        /// The schema description, relative to the workspace root.
        #[arg(long, requires = "out")]
        schema: Option<PathBuf>,
        /// Directory of the generated crate, relative to the workspace root.
        #[arg(long, requires = "schema")]
        out: Option<PathBuf>,
        /// Package name of the generated crate (with `--schema`).
        #[arg(long, default_value = "tenantapi-generated")]
        crate_name: String,
    },
    /// Write a schema description read from a live reference database (PostgreSQL or SQLite):
    /// `tenantapi introspect` with these arguments (`cargo xtask introspect --help` lists them).
    /// `--out schema/project.toml` replaces the description (its `doc` texts are lost: review
    /// the diff).
    #[command(disable_help_flag = true)]
    Introspect {
        /// The arguments of `tenantapi introspect`, passed on as they are (a relative `--out`
        /// made absolute).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<OsString>,
    },
    /// Write a synthetic schema description of N related tables (for benchmarks).
    SynthSchema {
        /// Number of tables.
        tables: usize,
        /// Columns of each table (at least 7; by default the seven of the common types).
        #[arg(long)]
        columns: Option<usize>,
        /// Give every tenth table this many columns instead.
        #[arg(long)]
        every_tenth: Option<usize>,
        /// Add one table of each of these widths (`--wide 40,100,400`).
        #[arg(long, value_delimiter = ',')]
        wide: Vec<usize>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    match Cli::parse().command {
        Command::Gen {
            check,
            schema,
            out,
            crate_name,
        } => {
            let jobs = match (schema, out) {
                (Some(schema), Some(out)) => vec![GenerateJob {
                    workspace_root: root,
                    schema,
                    out,
                    crate_name,
                    check,
                }],
                _ => GenerateJob::workspace(&root, check),
            };
            // Every job runs, so that one stale crate does not hide another.
            let failed: Vec<ExitCode> = jobs
                .iter()
                .map(gen_command)
                .filter(|code| *code != ExitCode::SUCCESS)
                .collect();
            failed.into_iter().next().unwrap_or(ExitCode::SUCCESS)
        }
        Command::Introspect { arguments } => {
            // The server binary owns the database drivers and the arguments; xtask stays light
            // to build and runs it from the workspace root.
            let mut command = std::process::Command::new(
                std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            );
            command
                .current_dir(&root)
                .args([
                    "run",
                    "--quiet",
                    "--package",
                    "tenantapi-server",
                    "--",
                    "introspect",
                ])
                .args(with_absolute_out(arguments));
            match command.status() {
                Ok(status) if status.success() => ExitCode::SUCCESS,
                Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8),
                Err(error) => {
                    eprintln!("error: cannot run cargo: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Command::SynthSchema {
            tables,
            columns,
            every_tenth,
            wide,
            out,
        } => {
            let shape = synth::Shape {
                tables,
                columns: columns.unwrap_or(synth::COMMON_COLUMNS),
                every_tenth,
                wide,
            };
            match std::fs::write(&out, synth::schema_source(&shape)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: cannot write {}: {error}", out.display());
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// `arguments` with the file of `--out FILE` or `--out=FILE` relative to the caller's directory
/// made absolute, since the server runs from the workspace root.
fn with_absolute_out(arguments: Vec<OsString>) -> Vec<OsString> {
    let absolute = |path: &std::ffi::OsStr| -> OsString {
        let path = Path::new(path);
        if path.is_absolute() {
            return path.into();
        }
        std::env::current_dir()
            .unwrap_or_default()
            .join(path)
            .into()
    };
    let mut after_out = false;
    arguments
        .into_iter()
        .map(|argument| {
            if std::mem::take(&mut after_out) {
                return absolute(&argument);
            }
            match argument.to_str() {
                Some("--out") => after_out = true,
                Some(text) if text.starts_with("--out=") => {
                    let mut joined = OsString::from("--out=");
                    joined.push(absolute(text["--out=".len()..].as_ref()));
                    return joined;
                }
                _ => {}
            }
            argument
        })
        .collect()
}

fn gen_command(job: &GenerateJob) -> ExitCode {
    let outcome = match generate(job) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let out = job.out.display();
    let schema = job.schema.display();
    if job.check {
        if outcome.changes.is_empty() {
            println!(
                "{out} is up to date with {schema} ({} files)",
                outcome.files
            );
            return ExitCode::SUCCESS;
        }
        eprintln!("{out} is not up to date with {schema}:");
        for change in &outcome.changes {
            eprintln!("  {change}");
        }
        eprintln!("Run `cargo xtask gen` locally, and commit the changes.");
        return ExitCode::FAILURE;
    }
    for change in &outcome.changes {
        println!("  {change}");
    }
    println!(
        "generated {} files in {out} from {schema} ({} tables): {} changed; rendered in {:.1} ms, total {:.1} ms",
        outcome.files,
        outcome.tables,
        outcome.changes.len(),
        outcome.render_time.as_secs_f64() * 1000.0,
        outcome.total_time.as_secs_f64() * 1000.0
    );
    ExitCode::SUCCESS
}
