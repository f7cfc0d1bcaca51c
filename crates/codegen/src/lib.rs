//! Renders a validated schema model into the files of a generated crate, and writes them
//! through one path that can also check that checked-in output is up to date.

mod ddl;
mod generate;
mod openapi;
mod output;
mod render;
mod rust_types;
mod structure_lock;

pub use generate::{GenerateError, GenerateJob, GenerateOutcome, generate};
pub use output::{FileChange, WriteError, ensure_files};
pub use render::{GENERATED_MARKER, PreviousVersion, RenderOptions, render_crate};

#[cfg(test)]
mod boundaries {
    //! The renderers consume `tenantapi_schema::model::Schema` only: Rust names, struct names and
    //! verbose names are read from the model, where `tenantapi_schema::names` derived them once.

    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                sources(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }

    #[test]
    fn renderers_derive_no_rust_name_themselves() {
        let derivations = [
            "rust_ident_for_sql_name",
            "column_rust_ident_for_sql_name",
            "struct_name_for",
            "verbose_name_for",
        ];
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let this_file = Path::new(file!()).file_name().expect("a file name");
        let mut found = Vec::new();
        for file in files
            .iter()
            .filter(|file| file.file_name() != Some(this_file))
        {
            let text = std::fs::read_to_string(file).expect("source file");
            for (number, line) in text.lines().enumerate() {
                if derivations.iter().any(|name| line.contains(name)) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
        assert!(files.len() > 10, "the scan reads the renderers");
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
