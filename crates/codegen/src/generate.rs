//! The whole `gen` step: load and validate a description, render the crate, write or check it.
//! `cargo xtask gen` and the freshness tests call this, so they cannot disagree.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{FileChange, RenderOptions};

/// One generation job, with paths relative to the workspace root.
#[derive(Debug, Clone)]
pub struct GenerateJob {
    pub workspace_root: PathBuf,
    pub schema: PathBuf,
    pub out: PathBuf,
    pub crate_name: String,
    pub check: bool,
}

impl GenerateJob {
    /// The product's own job: `schema/project.toml` into `crates/generated`.
    pub fn project(workspace_root: &Path, check: bool) -> GenerateJob {
        GenerateJob {
            workspace_root: workspace_root.to_path_buf(),
            schema: PathBuf::from("schema/project.toml"),
            out: PathBuf::from("crates/generated"),
            crate_name: "tenantapi-generated".into(),
            check,
        }
    }

    /// The real-world sample: the description `tenantapi introspect` writes from
    /// `tests/realworld/postgres.sql`, into the crate the end-to-end tests serve.
    pub fn realworld(workspace_root: &Path, check: bool) -> GenerateJob {
        GenerateJob {
            workspace_root: workspace_root.to_path_buf(),
            schema: PathBuf::from("tests/realworld/schema.toml"),
            out: PathBuf::from("tests/realworld/generated"),
            crate_name: "tenantapi-realworld".into(),
            check,
        }
    }

    /// Every description of the workspace with its checked-in crate: what `cargo xtask gen`
    /// writes (or with `--check` checks).
    pub fn workspace(workspace_root: &Path, check: bool) -> Vec<GenerateJob> {
        vec![
            GenerateJob::project(workspace_root, check),
            GenerateJob::realworld(workspace_root, check),
        ]
    }
}

#[derive(Debug)]
pub struct GenerateOutcome {
    pub tables: usize,
    pub files: usize,
    /// What was written, or in check mode what is stale.
    pub changes: Vec<FileChange>,
    pub render_time: Duration,
    pub total_time: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}\n\nnothing was written")]
    Schema(#[from] tenantapi_schema::SchemaError),
    #[error(transparent)]
    Write(#[from] crate::WriteError),
}

pub fn generate(job: &GenerateJob) -> Result<GenerateOutcome, GenerateError> {
    let started = Instant::now();
    let schema_display = display(&job.schema);
    let model = if job.schema.is_absolute() {
        tenantapi_schema::load_file(&job.schema)?
    } else {
        let source =
            std::fs::read_to_string(job.workspace_root.join(&job.schema)).map_err(|error| {
                tenantapi_schema::SchemaError::Io {
                    path: schema_display.clone(),
                    error,
                }
            })?;
        tenantapi_schema::parse_str(&schema_display, &source)?
    };
    let options = RenderOptions {
        crate_name: job.crate_name.clone(),
        source_display: schema_display,
        runtime_path: relative_path(&job.out, Path::new("crates/runtime")),
    };
    let files = crate::render_crate(&model, &options);
    let render_time = started.elapsed();
    let changes = crate::ensure_files(
        &job.workspace_root.join(&job.out),
        &files,
        crate::GENERATED_MARKER,
        job.check,
    )?;
    Ok(GenerateOutcome {
        tables: model.tables.len(),
        files: files.len(),
        changes,
        render_time,
        total_time: started.elapsed(),
    })
}

fn display(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

/// A relative path from directory `from` to `to`, both relative to the workspace root.
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
