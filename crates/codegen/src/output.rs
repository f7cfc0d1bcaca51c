//! The one write path for generated files: rewrite only what changed, or, in check mode,
//! report what is stale without touching anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file whose checked-in content differs from what the generator renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    Created(PathBuf),
    Updated {
        path: PathBuf,
        first_different_line: usize,
    },
    /// A generated file that the description no longer produces.
    Removed(PathBuf),
}

impl std::fmt::Display for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileChange::Created(path) => write!(f, "missing: {}", path.display()),
            FileChange::Updated {
                path,
                first_different_line,
            } => {
                write!(
                    f,
                    "differs: {} (from line {first_different_line})",
                    path.display()
                )
            }
            FileChange::Removed(path) => write!(f, "no longer generated: {}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Makes `dir` hold exactly `files` (paths relative to `dir`) among generated files, and
/// returns what was (or, with `check`, would be) changed. Generated files are recognized by
/// their header, so hand-written files beside them are never removed.
pub fn ensure_files(
    dir: &Path,
    files: &BTreeMap<PathBuf, String>,
    generated_marker: &str,
    check: bool,
) -> Result<Vec<FileChange>, WriteError> {
    let mut changes = Vec::new();
    for (relative, content) in files {
        let path = dir.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == *content => continue,
            Ok(existing) => {
                let first_different_line = existing
                    .lines()
                    .zip(content.lines())
                    .position(|(old, new)| old != new)
                    .unwrap_or_else(|| existing.lines().count().min(content.lines().count()))
                    + 1;
                changes.push(FileChange::Updated {
                    path: relative.clone(),
                    first_different_line,
                });
            }
            Err(_) => changes.push(FileChange::Created(relative.clone())),
        }
        if !check {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| WriteError::Io {
                    action: "create directory",
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, content).map_err(|source| WriteError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
        }
    }
    for stale in existing_generated_files(dir, generated_marker)? {
        let relative = stale
            .strip_prefix(dir)
            .expect("listed under dir")
            .to_path_buf();
        if files.contains_key(&relative) {
            continue;
        }
        if !check {
            std::fs::remove_file(&stale).map_err(|source| WriteError::Io {
                action: "remove",
                path: stale.clone(),
                source,
            })?;
        }
        changes.push(FileChange::Removed(relative));
    }
    Ok(changes)
}

fn existing_generated_files(dir: &Path, marker: &str) -> Result<Vec<PathBuf>, WriteError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(WriteError::Io {
                    action: "list",
                    path: current,
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    pending.push(path);
                }
            } else if std::fs::read_to_string(&path)
                .is_ok_and(|text| text.lines().take(3).any(|line| line.contains(marker)))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
