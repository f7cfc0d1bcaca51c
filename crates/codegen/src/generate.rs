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
    /// Descriptions that cannot be served side by side (`schema/previous/`).
    #[error("{0}\n\nnothing was written")]
    Versions(String),
}

pub fn generate(job: &GenerateJob) -> Result<GenerateOutcome, GenerateError> {
    let started = Instant::now();
    let model = load_description(&job.workspace_root, &job.schema)?;
    let previous = previous_descriptions(job)?;
    check_served_together(job, &model, &previous)?;
    let options = RenderOptions {
        crate_name: job.crate_name.clone(),
        source_display: display(&job.schema),
        runtime_path: relative_path(&job.out, Path::new("crates/runtime")),
    };
    let mut described = vec![(job.schema.clone(), &model)];
    described.extend(previous.iter().map(|(path, schema)| (path.clone(), schema)));
    let lock_update = check_structure_lock(job, &described)?;
    let previous: Vec<crate::PreviousVersion> = previous
        .into_iter()
        .map(|(path, schema)| crate::PreviousVersion {
            schema,
            source_display: display(&path),
        })
        .collect();
    let files = crate::render_crate(&model, &options, &previous);
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

/// One description file, relative to the workspace root (or absolute).
fn load_description(
    workspace_root: &Path,
    path: &Path,
) -> Result<tenantapi_schema::model::Schema, GenerateError> {
    if path.is_absolute() {
        return Ok(tenantapi_schema::load_file(path)?);
    }
    let source = std::fs::read_to_string(workspace_root.join(path)).map_err(|error| {
        tenantapi_schema::SchemaError::Io {
            path: display(path),
            error,
        }
    })?;
    Ok(tenantapi_schema::parse_str(&display(path), &source)?)
}

/// The older versions still served: every `*.toml` of `previous/` beside the description,
/// in file name order, each a complete description of its own.
fn previous_descriptions(
    job: &GenerateJob,
) -> Result<Vec<(PathBuf, tenantapi_schema::model::Schema)>, GenerateError> {
    let dir = job
        .schema
        .parent()
        .unwrap_or(Path::new(""))
        .join("previous");
    let entries = match std::fs::read_dir(job.workspace_root.join(&dir)) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(GenerateError::Versions(format!(
                "cannot list {}: {error}",
                display(&dir)
            )));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| dir.join(entry.file_name()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| Ok((path.clone(), load_description(&job.workspace_root, &path)?)))
        .collect()
}

/// Refuses descriptions that one server cannot serve side by side, at the file and line of
/// the key that must change: one version described twice, versions read from different
/// places (the server reads a project's version before it knows which description applies),
/// other PostgreSQL schemas (one connection's search path serves every version), or two
/// versions whose module names collide.
fn check_served_together(
    job: &GenerateJob,
    newest: &tenantapi_schema::model::Schema,
    previous: &[(PathBuf, tenantapi_schema::model::Schema)],
) -> Result<(), GenerateError> {
    let newest_file = display(&job.schema);
    let mut seen: Vec<(String, String, String)> = vec![(
        newest.version.clone(),
        tenantapi_schema::names::version_module_name(&newest.version),
        newest_file.clone(),
    )];
    for (path, schema) in previous {
        let file = display(path);
        let at = |key: &str| key_location(&job.workspace_root, path, key);
        let module = tenantapi_schema::names::version_module_name(&schema.version);
        if let Some((_, _, other)) = seen.iter().find(|(version, ..)| *version == schema.version) {
            return Err(GenerateError::Versions(format!(
                "{}: version \"{}\" is also the version of {other}; a served version has one description. Give {file} the version its databases record, or delete one of the two.",
                at("version"),
                schema.version
            )));
        }
        if let Some((version, _, other)) = seen.iter().find(|(_, other, _)| *other == module) {
            return Err(GenerateError::Versions(format!(
                "{}: version \"{}\" and version \"{version}\" ({other}) would both be compiled into the module `{module}` (every character but ASCII letters and digits becomes `_`); versions served together must differ in more than punctuation.",
                at("version"),
                schema.version
            )));
        }
        if schema.version_source != newest.version_source {
            return Err(GenerateError::Versions(format!(
                "{}: [version_source] is {}.{} here but {}.{} in {newest_file}; the server reads a project's version before it knows which description applies, so every served version must record it in the same table and column.",
                at("version_source"),
                schema.version_source.table,
                schema.version_source.column,
                newest.version_source.table,
                newest.version_source.column
            )));
        }
        if schema.postgres_search_path() != newest.postgres_search_path() {
            return Err(GenerateError::Versions(format!(
                "{}: the tables of version \"{}\" live in the PostgreSQL schemas {:?}, those of {newest_file} in {:?}; a project's connections have one search path whatever version they serve, so served versions must use the same schemas.",
                at("postgres_schema"),
                schema.version,
                schema.postgres_search_path(),
                newest.postgres_search_path()
            )));
        }
        seen.push((schema.version.clone(), module, file));
    }
    Ok(())
}

/// The descriptions' `.structure.lock` (beside the newest) checked against each described
/// version's structure: an error when a structure changed under a recorded version; the
/// lock's new text (with its path and the change to report) when a version is new to it.
fn check_structure_lock(
    job: &GenerateJob,
    described: &[(PathBuf, &tenantapi_schema::model::Schema)],
) -> Result<Option<(PathBuf, String, FileChange)>, GenerateError> {
    let path = crate::structure_lock::lock_path(&job.schema);
    let absolute = job.workspace_root.join(&path);
    let mut lock =
        crate::structure_lock::StructureLock::read(&absolute).map_err(GenerateError::Lock)?;
    let before = lock.clone();
    for (description, model) in described {
        let fingerprints = tenantapi_schema::fingerprint::table_fingerprints(model);
        if let Err(differences) = lock.record(&model.version, fingerprints) {
            return Err(GenerateError::StructureChanged {
                location: key_location(&job.workspace_root, description, "version"),
                version: model.version.clone(),
                lock: display(&path),
                differences,
            });
        }
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

/// `file:line` of a top-level `key = ...` or `[key]` of a description (the `version` line
/// when the key is absent, the file alone when neither can be found).
fn key_location(workspace_root: &Path, description: &Path, key: &str) -> String {
    let file = display(description);
    let text = std::fs::read_to_string(workspace_root.join(description)).unwrap_or_default();
    let line_of = |key: &str| {
        text.lines().position(|line| {
            let line = line.trim_start();
            line == format!("[{key}]")
                || line
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    line_of(key)
        .or_else(|| line_of("version"))
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
