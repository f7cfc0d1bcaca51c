//! Synthetic schema descriptions of N tables, for generation and compile-time benchmarks.
//!
//! Each table mixes the common column types and references the previous table, so the output
//! exercises foreign keys, `joinable!` and the related-pairs rule like a real schema does.

use std::fmt::Write as _;

/// The columns every table has: a key, the common types, a reference to the previous table.
pub const COMMON_COLUMNS: usize = 7;

/// What to synthesize: `tables` related tables of `columns` columns each (every tenth of
/// `every_tenth` when given), and one more table of each width in `wide`.
pub struct Shape {
    pub tables: usize,
    pub columns: usize,
    pub every_tenth: Option<usize>,
    pub wide: Vec<usize>,
}

/// Column types past the common ones, in turn.
const EXTRA_TYPES: [&str; 6] = ["integer", "text", "double", "date", "bigint", "varchar(40)"];

pub fn schema_source(shape: &Shape) -> String {
    let mut out = String::from(
        "# Synthetic schema for benchmarks: written by `cargo xtask synth-schema`.\nversion = \"synthetic-1\"\n\n[version_source]\ntable = \"schema_version\"\ncolumn = \"version\"\n\n[[table]]\nname = \"schema_version\"\nread_only = true\n\n[[table.column]]\nname = \"version\"\ntype = \"varchar(64)\"\nprimary_key = true\n",
    );
    for index in 0..shape.tables {
        let width = match shape.every_tenth {
            Some(width) if index % 10 == 9 => width,
            _ => shape.columns,
        };
        let parent = index
            .checked_sub(1)
            .map(|parent| format!("entity_{parent:04}"));
        write_table(
            &mut out,
            &format!("entity_{index:04}"),
            width,
            parent.as_deref(),
        );
    }
    for (number, &width) in shape.wide.iter().enumerate() {
        write_table(
            &mut out,
            &format!("wide_{number}_{width}"),
            width,
            Some("entity_0000"),
        );
    }
    out
}

/// One table of `width` columns (at least the common ones), referencing `parent` if any.
fn write_table(out: &mut String, name: &str, width: usize, parent: Option<&str>) {
    write!(out, "\n[[table]]\nname = \"{name}\"\n").unwrap();
    for (column, ty, extra) in [
        ("id", "serial", "primary_key = true\n"),
        ("name", "varchar(255)", "unique = true\n"),
        ("amount", "numeric(12, 2)", "nullable = true\n"),
        ("active", "boolean", "default = true\n"),
        ("created_at", "timestamptz", "default = \"now\"\n"),
        ("external_id", "uuid", "nullable = true\n"),
    ] {
        write!(
            out,
            "\n[[table.column]]\nname = \"{column}\"\ntype = \"{ty}\"\n{extra}"
        )
        .unwrap();
    }
    let mut written = COMMON_COLUMNS - 1;
    if let Some(parent) = parent {
        write!(
            out,
            "\n[[table.column]]\nname = \"parent_id\"\ntype = \"integer\"\nnullable = true\nreferences = \"{parent}.id\"\non_delete = \"set_null\"\n"
        )
        .unwrap();
        written += 1;
    }
    for extra in written..width {
        let ty = EXTRA_TYPES[extra % EXTRA_TYPES.len()];
        write!(
            out,
            "\n[[table.column]]\nname = \"c{extra:03}\"\ntype = \"{ty}\"\nnullable = true\n"
        )
        .unwrap();
    }
}
