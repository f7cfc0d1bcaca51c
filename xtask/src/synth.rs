//! Synthetic schema descriptions of N tables, for generation and compile-time benchmarks.
//!
//! Each table mixes the common column types and references the previous table, so the output
//! exercises foreign keys, `joinable!` and the related-pairs rule like a real schema does.

use std::fmt::Write as _;

pub fn schema_source(tables: usize) -> String {
    let mut out = String::from(
        "# Synthetic schema for benchmarks: written by `cargo xtask synth-schema`.\nversion = \"synthetic-1\"\n\n[version_source]\ntable = \"schema_version\"\ncolumn = \"version\"\n\n[[table]]\nname = \"schema_version\"\nread_only = true\n\n[[table.column]]\nname = \"version\"\ntype = \"varchar(64)\"\nprimary_key = true\n",
    );
    for index in 0..tables {
        let name = format!("entity_{index:04}");
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
        if index > 0 {
            write!(
                out,
                "\n[[table.column]]\nname = \"parent_id\"\ntype = \"integer\"\nnullable = true\nreferences = \"entity_{:04}.id\"\non_delete = \"set_null\"\n",
                index - 1
            )
            .unwrap();
        }
    }
    out
}
