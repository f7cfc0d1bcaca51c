//! Hand-written runtime that generated code calls, in three layers that import only downward:
//! `http` (Django REST Framework's conventions over the generic handlers) uses `data` (table
//! descriptions, values, SQL, validation and writes), which uses `connections` (project
//! databases, their pools, scheduling and structure version). `api` is what a generated crate
//! hands the server.

pub mod api;
pub mod connections;
pub mod data;
pub mod http;

pub use data::values::{Bytes, Decimal, Json, List, Timestamptz, Uuid};

/// Crates that generated code names, so that the generated crate depends on this one only
/// for them and their versions always match.
pub mod reexports {
    pub use chrono;
    pub use serde_json;
}

#[cfg(test)]
mod layers {
    //! The layers import only downward: a path to an upper layer in a lower one fails here.

    use std::path::{Path, PathBuf};

    fn sources(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("layer directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                files.extend(sources(&path));
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
        files
    }

    /// Every line of the `layer` directory (but the files named in `except`) that contains one
    /// of `needles`.
    fn lines_containing(layer: &str, needles: &[String], except: &[&str]) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(layer);
        let mut found = Vec::new();
        for file in sources(&dir) {
            if except.iter().any(|name| file.ends_with(name)) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("source file");
            for (number, line) in text.lines().enumerate() {
                if needles.iter().any(|needle| line.contains(needle.as_str())) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
        found
    }

    /// Every line of the `layer` directory that names one of the `upper` layers.
    fn upward_paths(layer: &str, upper: &[&str]) -> Vec<String> {
        let needles: Vec<String> = upper
            .iter()
            .map(|upper| format!("crate::{upper}"))
            .collect();
        lines_containing(layer, &needles, &[])
    }

    #[test]
    fn connections_import_neither_data_nor_http() {
        let found = upward_paths("connections", &["data", "http", "api"]);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn data_does_not_import_http() {
        let found = upward_paths("data", &["http", "api"]);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_check_sees_an_upward_path() {
        let found = upward_paths("http", &["data"]);
        assert!(!found.is_empty(), "http uses data; the scan must find it");
    }

    /// Only the guard selects a database for a request: nothing else in the HTTP layer takes a
    /// project's turn or checks one of its connections out.
    #[test]
    fn only_the_guard_checks_out_a_request_connection() {
        let needles: Vec<String> = [
            ".take_turn(",
            ".checkout(",
            ".checkout_idle(",
            "with_connection(",
        ]
        .map(String::from)
        .to_vec();
        let found = lines_containing("http", &needles, &["guard.rs"]);
        assert!(found.is_empty(), "{}", found.join("\n"));
        let guard = lines_containing("http", &needles, &[]);
        assert!(
            !guard.is_empty(),
            "the guard itself checks out; the scan must see it"
        );
    }
}
