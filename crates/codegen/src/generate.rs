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
    /// The structure changed while `version` stayed (`<description>.structure.lock`).
    #[error(
        "{location}: the structure changed but `version` is still \"{version}\":\n  {}\n\nA database that records {version} has the structure recorded for it in {lock}, and would be served with code for another. Bump `version`, or revert the change. (If {version} was never released, delete its section from {lock}.)\n\nnothing was written",
        differences.join("\n  ")
    )]
    StructureChanged {
        location: String,
        version: String,
        lock: String,
        differences: Vec<String>,
    },
    #[error("{0}\n\nnothing was written")]
    Lock(String),
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
    let lock_update = check_structure_lock(job, &model)?;
    let files = crate::render_crate(&model, &options);
    let render_time = started.elapsed();
    let mut changes = crate::ensure_files(
        &job.workspace_root.join(&job.out),
        &files,
        crate::GENERATED_MARKER,
        job.check,
    )?;
    if let Some((path, text, change)) = lock_update {
        if !job.check {
            std::fs::write(job.workspace_root.join(&path), text).map_err(|error| {
                GenerateError::Lock(format!("cannot write {}: {error}", display(&path)))
            })?;
        }
        changes.push(change);
    }
    Ok(GenerateOutcome {
        tables: model.tables.len(),
        files: files.len(),
        changes,
        render_time,
        total_time: started.elapsed(),
    })
}

/// The description's `.structure.lock` checked against its structure: an error when the
/// structure changed under a recorded version; the lock's new text (with its path and the
/// change to report) when this version is new to it.
fn check_structure_lock(
    job: &GenerateJob,
    model: &tenantapi_schema::model::Schema,
) -> Result<Option<(PathBuf, String, FileChange)>, GenerateError> {
    let path = crate::structure_lock::lock_path(&job.schema);
    let absolute = job.workspace_root.join(&path);
    let mut lock =
        crate::structure_lock::StructureLock::read(&absolute).map_err(GenerateError::Lock)?;
    let before = lock.clone();
    let fingerprints = tenantapi_schema::fingerprint::table_fingerprints(model);
    if let Err(differences) = lock.record(&model.version, fingerprints) {
        return Err(GenerateError::StructureChanged {
            location: version_location(job),
            version: model.version.clone(),
            lock: display(&path),
            differences,
        });
    }
    if lock == before {
        return Ok(None);
    }
    let change = if absolute.exists() {
        FileChange::Updated {
            path: path.clone(),
            first_different_line: 1,
        }
    } else {
        FileChange::Created(path.clone())
    };
    Ok(Some((path, lock.render(), change)))
}

/// `file:line` of the description's `version` key (the file alone if it cannot be found).
fn version_location(job: &GenerateJob) -> String {
    let file = display(&job.schema);
    let text = std::fs::read_to_string(job.workspace_root.join(&job.schema)).unwrap_or_default();
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix("version")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(file.clone(), |index| format!("{file}:{}", index + 1))
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
