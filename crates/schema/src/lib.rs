//! The schema description format: parse, validate and lower `schema/project.toml` into a plain model.
//!
//! The pipeline is: TOML with source spans ([`toml::Spanned`]) into raw
//! structures, then validation collecting every problem it can find as a
//! located [`Diagnostic`], then lowering into [`model::Schema`], which is what
//! renderers consume. Rust identifiers are derived only in [`names`].

pub mod api_rules;
mod error;
pub mod fingerprint;
mod lower;
pub mod model;
pub mod names;
mod raw;
pub mod sql;
pub mod toml_writer;
mod type_spelling;

pub use error::{Diagnostic, SchemaError};
pub use lower::{MAX_SQL_NAME_BYTES, MAX_TABLE_COLUMNS, MAX_TYPED_TABLE_COLUMNS};

use std::path::Path;

use error::Reporter;

/// Reads, validates and lowers a description file.
///
/// Diagnostics name the file as `path` was given, with `/` as separator.
pub fn load_file(path: &Path) -> Result<model::Schema, SchemaError> {
    let file_name = display_path(path);
    let source = std::fs::read_to_string(path).map_err(|error| SchemaError::Io {
        path: file_name.clone(),
        error,
    })?;
    parse_str(&file_name, &source)
}

/// Validates and lowers a description given as text; `file_name` is used in diagnostics.
pub fn parse_str(file_name: &str, source: &str) -> Result<model::Schema, SchemaError> {
    let mut reporter = Reporter::new(file_name, source);
    let schema = raw::parse(&mut reporter).and_then(|raw| lower::lower(raw, &mut reporter));
    match schema {
        Some(schema) if !reporter.has_errors() => Ok(schema),
        _ => Err(reporter.into_error()),
    }
}

fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        text.into_owned()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}
