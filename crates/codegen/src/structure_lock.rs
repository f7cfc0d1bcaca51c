//! `<description>.structure.lock` (`schema/project.structure.lock` beside
//! `schema/project.toml`): the structure fingerprints
//! (`tenantapi_schema::fingerprint`) each `version` of the description has had. `gen` refuses
//! a description whose structure differs from what its `version` recorded, since a database
//! recording that version has the recorded structure and would be served with code for
//! another; a new version is recorded. Versions stay recorded when their description goes.

use std::collections::BTreeMap;
use std::path::Path;

/// The lock of the description at `description`: its path with `.structure.lock` for `.toml`
/// (one per description, so that descriptions sharing a directory keep their own).
pub fn lock_path(description: &Path) -> std::path::PathBuf {
    description.with_extension("structure.lock")
}

const HEADER: &str = "\
# Written by `cargo xtask gen`: the structure of each version this description has had, one
# fingerprint per table (see docs/description-format.md, \"Structure versions\"). `gen` refuses
# a description whose structure differs from what its `version` recorded here: bump `version`,
# or revert. A version that was never released may be dropped by deleting its section.
";

/// Fingerprints by table, by version.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct StructureLock(BTreeMap<String, BTreeMap<String, String>>);

impl StructureLock {
    /// The lock at `path`; empty when there is none yet.
    pub fn read(path: &Path) -> Result<StructureLock, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|error| {
                format!(
                    "{}: not a structure lock ({}); restore it from version control",
                    path.display(),
                    error.message()
                )
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(StructureLock::default())
            }
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }

    pub fn render(&self) -> String {
        let mut text = HEADER.to_string();
        for (version, tables) in &self.0 {
            text.push_str(&format!("\n[{}]\n", quoted(version)));
            for (table, fingerprint) in tables {
                text.push_str(&format!("{} = {}\n", quoted(table), quoted(fingerprint)));
            }
        }
        text
    }

    /// Records `fingerprints` for `version`, or, when the version is recorded with others, says
    /// what differs (one line per table).
    pub fn record(
        &mut self,
        version: &str,
        fingerprints: BTreeMap<String, String>,
    ) -> Result<(), Vec<String>> {
        let Some(recorded) = self.0.get(version) else {
            self.0.insert(version.to_string(), fingerprints);
            return Ok(());
        };
        let mut differences = Vec::new();
        for (table, fingerprint) in &fingerprints {
            match recorded.get(table) {
                None => differences.push(format!("table {table} added")),
                Some(before) if before != fingerprint => {
                    differences.push(format!("table {table} changed"));
                }
                Some(_) => {}
            }
        }
        for table in recorded
            .keys()
            .filter(|table| !fingerprints.contains_key(*table))
        {
            differences.push(format!("table {table} removed"));
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(differences)
        }
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(table, print)| (table.to_string(), print.to_string()))
            .collect()
    }

    #[test]
    fn a_new_version_is_recorded_and_an_unchanged_one_accepted() {
        let mut lock = StructureLock::default();
        lock.record("1", tables(&[("site", "aa")])).unwrap();
        lock.record("1", tables(&[("site", "aa")])).unwrap();
        lock.record("2", tables(&[("site", "bb")])).unwrap();
        let text = lock.render();
        let read: StructureLock = toml::from_str(&text).unwrap();
        assert_eq!(read, lock, "{text}");
    }

    #[test]
    fn a_changed_structure_under_a_recorded_version_is_named_table_by_table() {
        let mut lock = StructureLock::default();
        lock.record("1", tables(&[("site", "aa"), ("tag", "cc")]))
            .unwrap();
        let differences = lock
            .record("1", tables(&[("site", "ab"), ("reading", "dd")]))
            .unwrap_err();
        assert_eq!(
            differences,
            [
                "table reading added",
                "table site changed",
                "table tag removed"
            ]
        );
    }
}
