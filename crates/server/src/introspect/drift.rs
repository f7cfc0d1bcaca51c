//! Drift: the differences between a live database and the structure the code was generated
//! from, one line each.

use std::collections::BTreeSet;

use tenantapi_runtime::connections::db::BackendKind;
use tenantapi_runtime::data::meta::{ColumnKind, ColumnMeta, TableMeta};
use tenantapi_schema::model::ColumnType;

use super::{LiveColumn, LiveTable, RelationKind};

/// How a live column's type differs from the described one, if it does.
fn type_difference(
    backend: BackendKind,
    found: &LiveColumn,
    column: &ColumnMeta,
) -> Option<String> {
    let expected = || {
        let scalar = match column.enum_type {
            Some(named) => format!("enum {} ({})", named.name, named.values.join(", ")),
            None => column.kind.spelling(),
        };
        if column.array {
            format!("{scalar}[]")
        } else {
            scalar
        }
    };
    let differs = || Some(format!("type {}, expected {}", found.live_type, expected()));
    // SQLite keeps lists and columns served as text in TEXT columns.
    let sqlite_text = backend == BackendKind::Sqlite && found.ty == Ok(ColumnType::Text);
    if let Some(described) = column.database_type {
        let same = |a: &str, b: &str| {
            a.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .eq_ignore_ascii_case(&b.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        return (!(same(&found.live_type, described) || sqlite_text))
            .then(|| format!("type {}, expected {described}", found.live_type));
    }
    if column.array && sqlite_text {
        return None;
    }
    // A described domain must be the live one; SQLite has none (its CHECKs stand in).
    if let Some(domain) = column.domain
        && backend == BackendKind::Postgres
        && found.domain.as_deref() != Some(domain)
    {
        return Some(format!(
            "type {}, expected domain {domain}",
            found.live_type
        ));
    }
    if column.array != found.array {
        return differs();
    }
    let ty = match &found.ty {
        Ok(ty) => *ty,
        Err(_) => return differs(),
    };
    let integer_key_kinds = [ColumnKind::Integer, ColumnKind::BigInt];
    if found.sqlite_rowid_key && integer_key_kinds.contains(&column.kind) {
        return None;
    }
    if ty.kind() != column.kind {
        return differs();
    }
    match (&found.enum_type, column.enum_type) {
        (Some(live), Some(described))
            if (live.named && live.name != described.name) || live.values != described.values =>
        {
            Some(format!(
                "enum {} ({}), expected enum {} ({})",
                live.name,
                live.values.join(", "),
                described.name,
                described.values.join(", ")
            ))
        }
        _ => None,
    }
}

/// Differences between a live database and the structure the code was generated from, one
/// line each: missing and extra tables and columns, types, nullability, defaults (present or
/// not), foreign keys, primary keys and uniques.
pub fn drift<'a>(
    live: &[LiveTable],
    described: impl IntoIterator<Item = &'a TableMeta>,
) -> Vec<String> {
    let described: Vec<&TableMeta> = described.into_iter().collect();
    let mut lines = Vec::new();
    for meta in &described {
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
            if let Some(difference) = type_difference(table.backend, found, column) {
                lines.push(format!(
                    "table {}: column {}: {difference}",
                    meta.name, column.name
                ));
            }
            match (column.computed, found.generated.is_some()) {
                (true, false) => lines.push(format!(
                    "table {}: column {}: not generated, expected a generated column",
                    meta.name, column.name
                )),
                (false, true) => lines.push(format!(
                    "table {}: column {}: a generated column, expected a plain one",
                    meta.name, column.name
                )),
                _ => {}
            }
            // A view declares no NOT NULL of its own (SQLite reports none at all).
            let is_view = table.kind != RelationKind::Table;
            if found.nullable != column.nullable && !is_view {
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
            // The format cannot say a default for a type it cannot express, and introspection
            // writes none: the database keeps it (SQLite's '' for a text stand-in of tsvector).
            if !column.has_default && has_default && column.database_type.is_none() {
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
