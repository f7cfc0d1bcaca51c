//! Developer commands of the workspace: `cargo xtask gen` compiles `schema/project.toml` into
//! the generated crate; `--check` only reports whether the checked-in crate is stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

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
    /// Compile a schema description into the generated crate.
    Gen {
        /// Write nothing; exit 1 with a summary if the checked-in crate is stale.
        #[arg(long)]
        check: bool,
        /// The schema description.
        #[arg(long, default_value = "schema/project.toml")]
        schema: PathBuf,
        /// Directory of the generated crate.
        #[arg(long, default_value = "crates/generated")]
        out: PathBuf,
        /// Package name of the generated crate.
        #[arg(long, default_value = "tenantapi-generated")]
        crate_name: String,
    },
    /// Write a synthetic schema description of N related tables (for benchmarks).
    SynthSchema {
        /// Number of tables.
        tables: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.command {
        Command::Gen {
            check,
            schema,
            out,
            crate_name,
        } => gen_command(&root, &schema, &out, &crate_name, check),
        Command::SynthSchema { tables, out } => {
            match std::fs::write(&out, synth::schema_source(tables)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: cannot write {}: {error}", out.display());
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn gen_command(root: &Path, schema: &Path, out: &Path, crate_name: &str, check: bool) -> ExitCode {
    let started = Instant::now();
    let schema_path = if schema.is_absolute() {
        schema.to_path_buf()
    } else {
        root.join(schema)
    };
    let out_dir = if out.is_absolute() {
        out.to_path_buf()
    } else {
        root.join(out)
    };
    let model = match tenantapi_schema::load_file(&relative_display(root, &schema_path)) {
        Ok(model) => model,
        Err(error) => {
            eprintln!("{error}");
            eprintln!("\nnothing was written");
            return ExitCode::from(2);
        }
    };
    let options = tenantapi_codegen::RenderOptions {
        crate_name: crate_name.to_string(),
        source_display: relative_display(root, &schema_path)
            .display()
            .to_string()
            .replace('\\', "/"),
        runtime_path: relative_path(&out_dir, &root.join("crates/runtime")),
    };
    let files = tenantapi_codegen::render_crate(&model, &options);
    let rendered = started.elapsed();
    let changes = match tenantapi_codegen::ensure_files(
        &out_dir,
        &files,
        tenantapi_codegen::GENERATED_MARKER,
        check,
    ) {
        Ok(changes) => changes,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let out_display = relative_display(root, &out_dir).display().to_string();
    if check {
        if changes.is_empty() {
            println!(
                "{out_display} is up to date with {} ({} files)",
                options.source_display,
                files.len()
            );
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "{out_display} is not up to date with {}:",
            options.source_display
        );
        for change in &changes {
            eprintln!("  {change}");
        }
        eprintln!("Run `cargo xtask gen` locally, and commit the changes.");
        return ExitCode::FAILURE;
    }
    for change in &changes {
        println!("  {change}");
    }
    println!(
        "generated {} files in {out_display} from {} ({} tables): {} changed; rendered in {:.1} ms, total {:.1} ms",
        files.len(),
        options.source_display,
        model.tables.len(),
        changes.len(),
        rendered.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    ExitCode::SUCCESS
}

/// `path` relative to the workspace root when it lies inside it, for stable messages and headers.
fn relative_display(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// A relative path from directory `from` to `to`, both inside the workspace, with `/`.
fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> =
        std::iter::repeat_n("..".to_string(), from.len() - common).collect();
    parts.extend(
        to[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
