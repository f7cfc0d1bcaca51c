//! Drift: the differences between a live database and the structure the code was generated
//! from, one line each.

use std::collections::BTreeSet;

use tenantapi_runtime::meta::{ColumnKind, TableMeta};

use super::LiveTable;

/// Differences between a live database and the structure the code was generated from, one
/// line each: missing and extra tables and columns, types, nullability, defaults (present or
/// not), foreign keys, primary keys and uniques.
pub fn drift(live: &[LiveTable], described: &[&TableMeta]) -> Vec<String> {
    let mut lines = Vec::new();
    for meta in described {
        let Some(table) = live.iter().find(|table| table.name == meta.name) else {
            lines.push(format!("missing table {}", meta.name));
            continue;
        };
        for column in meta.columns {
            let Some(found) = table.columns.iter().find(|found| found.name == column.name) else {
                lines.push(format!(
                    "table {}: missing column {}",
                    meta.name, column.name
                ));
                continue;
            };
            let integer_key_kinds = [ColumnKind::Integer, ColumnKind::BigInt];
            match &found.ty {
                Ok(ty) if ty.kind() == column.kind => {
                    if let (Some(live), Some(described)) = (&found.enum_type, column.enum_type)
                        && ((live.named && live.name != described.name)
                            || live.values != described.values)
                    {
                        lines.push(format!(
                            "table {}: column {}: enum {} ({}), expected enum {} ({})",
                            meta.name,
                            column.name,
                            live.name,
                            live.values.join(", "),
                            described.name,
                            described.values.join(", ")
                        ));
                    }
                }
                Ok(_) if found.sqlite_rowid_key && integer_key_kinds.contains(&column.kind) => {}

                Ok(ty) => lines.push(format!(
                    "table {}: column {}: type {}, expected {}",
                    meta.name,
                    column.name,
                    ty.spelling(),
                    column.kind.spelling()
                )),
                Err(other) => lines.push(format!(
                    "table {}: column {}: type {other}, expected {}",
                    meta.name,
                    column.name,
                    column.kind.spelling()
                )),
            }
            if found.nullable != column.nullable {
                let (is, expected) = if found.nullable {
                    ("nullable", "NOT NULL")
                } else {
                    ("NOT NULL", "nullable")
                };
                lines.push(format!(
                    "table {}: column {}: {is}, expected {expected}",
                    meta.name, column.name
                ));
            }
        }
        for (index, column) in meta.columns.iter().enumerate() {
            let Some(found) = table.columns.iter().find(|found| found.name == column.name) else {
                continue;
            };
            // Generated keys have the sequence (or rowid) as their default, which is not one.
            let has_default = found.default.is_some() && !column.generated;
            if column.has_default && !has_default && !column.generated {
                lines.push(format!(
                    "table {}: column {}: no default, expected one",
                    meta.name, column.name
                ));
            }
            if !column.has_default && has_default {
                lines.push(format!(
                    "table {}: column {}: has a default, expected none",
                    meta.name, column.name
                ));
            }
            let expected_key = meta.foreign_keys.iter().find(|key| key.column == index);
            let found_key = table
                .foreign_keys
                .iter()
                .find(|key| key.column == column.name);
            match (expected_key, found_key) {
                (Some(expected), Some(found))
                    if expected.references_table == found.references_table
                        && expected.references_column == found.references_column
                        && expected.on_delete == found.on_delete => {}
                (Some(expected), Some(found)) => lines.push(format!(
                    "table {}: column {}: references {}.{} on delete {}, expected {}.{} on delete {}",
                    meta.name,
                    column.name,
                    found.references_table,
                    found.references_column,
                    found.on_delete,
                    expected.references_table,
                    expected.references_column,
                    expected.on_delete
                )),
                (Some(expected), None) => lines.push(format!(
                    "table {}: column {}: missing foreign key to {}.{}",
                    meta.name, column.name, expected.references_table, expected.references_column
                )),
                (None, Some(found)) => lines.push(format!(
                    "table {}: column {}: extra foreign key to {}.{}",
                    meta.name, column.name, found.references_table, found.references_column
                )),
                (None, None) => {}
            }
        }
        for extra in table
            .columns
            .iter()
            .filter(|found| meta.column(&found.name).is_none())
            .filter(|found| !meta.ignored_columns.contains(&found.name.as_str()))
        {
            lines.push(format!("table {}: extra column {}", meta.name, extra.name));
        }
        let expected_key: Vec<&str> = meta
            .primary_key_columns()
            .map(|column| column.name)
            .collect();
        if !expected_key.is_empty() && table.primary_key != expected_key {
            lines.push(format!(
                "table {}: primary key ({}), expected ({})",
                meta.name,
                table.primary_key.join(", "),
                expected_key.join(", ")
            ));
        }
        let as_sets = |sets: Vec<Vec<String>>| -> BTreeSet<BTreeSet<String>> {
            sets.into_iter()
                .map(|set| set.into_iter().collect())
                .collect()
        };
        let expected_unique = as_sets(
            meta.unique
                .iter()
                .map(|set| {
                    set.iter()
                        .map(|&index| meta.columns[index].name.to_string())
                        .collect()
                })
                .collect(),
        );
        let found_unique = as_sets(table.unique.clone());
        for missing in expected_unique.difference(&found_unique) {
            lines.push(format!(
                "table {}: missing unique ({})",
                meta.name,
                missing.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for extra in found_unique.difference(&expected_unique) {
            lines.push(format!(
                "table {}: extra unique ({})",
                meta.name,
                extra.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for table in live
        .iter()
        .filter(|table| described.iter().all(|meta| meta.name != table.name))
    {
        lines.push(format!("extra table {}", table.name));
    }
    lines
}
