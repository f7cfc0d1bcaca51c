//! What a description's structure is, as the database must have it, reduced to one short hash
//! per table: what `gen` compares with the hashes recorded for the description's `version`
//! (`<description>.structure.lock` beside it), so that a structure cannot change while its version stays.
//!
//! What counts is what a database changes for: each table's SQL name and PostgreSQL schema,
//! its columns (SQL name, type, list, nullability, default, generated expression,
//! `database_type`, domain, the enum type's name and values), primary key, unique sets and
//! foreign keys (column, referenced table and column, `on_delete`), and where the version is
//! recorded. What does not: `doc` texts, Rust names, `ordering`, `search`, `read_only`,
//! `ignore_columns`, and the order of tables, columns and keys in the file.

use std::collections::BTreeMap;

use sha2::Digest as _;

use crate::model::{DefaultValue, Schema, Table};

/// The entry that stands for where the version is recorded (no table can be named so).
pub const VERSION_SOURCE_ENTRY: &str = "(version source)";

/// Each table's structure hash by the table's name (`schema.table` outside the description's
/// own PostgreSQL schema), and the version source's.
pub fn table_fingerprints(schema: &Schema) -> BTreeMap<String, String> {
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        VERSION_SOURCE_ENTRY.to_string(),
        hash(&format!(
            "{}.{}",
            schema.version_source.table, schema.version_source.column
        )),
    );
    for table in &schema.tables {
        let name = match &table.postgres_schema {
            Some(own) if Some(own) != schema.postgres_schema.as_ref() => {
                format!("{own}.{}", table.sql_name)
            }
            _ => table.sql_name.clone(),
        };
        fingerprints.insert(name, hash(&canonical_table(schema, table)));
    }
    fingerprints
}

/// One line per fact, sorted, so that the order of the file does not count.
fn canonical_table(schema: &Schema, table: &Table) -> String {
    let column_name = |index: usize| table.columns[index].sql_name.as_str();
    let names = |indexes: &[usize]| {
        let mut names: Vec<&str> = indexes.iter().map(|&index| column_name(index)).collect();
        names.sort_unstable();
        names.join(",")
    };
    let mut lines = Vec::new();
    for column in &table.columns {
        let enum_type = column.enum_type.map(|index| {
            let named = &schema.enums[index];
            format!("{}({})", named.sql_name, named.values.join(","))
        });
        lines.push(format!(
            "column {} type={}{} null={} default={} generated={:?} database_type={:?} domain={:?} enum={:?}",
            column.sql_name,
            column.ty.spelling(),
            if column.array { "[]" } else { "" },
            column.nullable,
            column.default.as_ref().map_or("-".to_string(), canonical_default),
            column.generated,
            column.database_type,
            column.domain,
            enum_type,
        ));
    }
    lines.push(format!("primary_key {}", names(&table.primary_key)));
    for unique in &table.unique {
        lines.push(format!("unique {}", names(unique)));
    }
    for key in &table.foreign_keys {
        let target = &schema.tables[key.references_table];
        lines.push(format!(
            "foreign_key {} -> {}.{} on_delete={}",
            column_name(key.column),
            target.sql_name,
            target.columns[key.references_column].sql_name,
            key.on_delete.word()
        ));
    }
    lines.sort();
    lines.join("\n")
}

fn canonical_default(default: &DefaultValue) -> String {
    match default {
        DefaultValue::Now => "now".into(),
        DefaultValue::Boolean(value) => value.to_string(),
        DefaultValue::Integer(value) => value.to_string(),
        DefaultValue::Number(text) => format!("number:{text}"),
        DefaultValue::Text(text) => format!("text:{text:?}"),
        DefaultValue::EmptyList => "[]".into(),
    }
}

/// The first 16 hex digits of the text's SHA-256: short enough to review in a diff.
fn hash(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
version = "1"
[version_source]
table = "schema_version"
column = "version"

[[table]]
name = "schema_version"
[[table.column]]
name = "version"
type = "text"
primary_key = true

[[table]]
name = "site"
doc = "A place."
[[table.column]]
name = "id"
type = "serial"
primary_key = true
[[table.column]]
name = "code"
type = "text"
unique = true
[[table.column]]
name = "note"
type = "text"
nullable = true
"#;

    fn fingerprints(text: &str) -> BTreeMap<String, String> {
        table_fingerprints(&crate::parse_str("test.toml", text).expect("valid description"))
    }

    #[test]
    fn cosmetic_edits_keep_the_fingerprints() {
        let base = fingerprints(BASE);
        let cosmetic = BASE
            .replace("doc = \"A place.\"", "doc = \"Where data points are.\"")
            .replace(
                "name = \"note\"\ntype = \"text\"\nnullable = true",
                "nullable = true\nname = \"note\"\ntype = \"text\"\nrust_name = \"remark\"",
            );
        assert_eq!(fingerprints(&cosmetic), base);
    }

    #[test]
    fn structural_edits_change_their_tables_fingerprint_only() {
        let base = fingerprints(BASE);
        for (what, changed) in [
            (
                "nullability",
                BASE.replace("nullable = true", "nullable = false"),
            ),
            (
                "type",
                BASE.replace(
                    "name = \"note\"\ntype = \"text\"",
                    "name = \"note\"\ntype = \"varchar(20)\"",
                ),
            ),
            (
                "a column",
                BASE.replace("name = \"note\"", "name = \"remark\""),
            ),
            ("uniqueness", BASE.replace("unique = true\n", "")),
        ] {
            let after = fingerprints(&changed);
            assert_ne!(after["site"], base["site"], "{what}");
            assert_eq!(after["schema_version"], base["schema_version"], "{what}");
        }
    }
}
