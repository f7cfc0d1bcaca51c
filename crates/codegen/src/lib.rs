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
pub use render::{GENERATED_MARKER, RenderOptions, render_crate};
