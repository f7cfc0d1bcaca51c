//! Primary keys and unique constraints written at table level, by column names.

use toml::Spanned;

use crate::error::Reporter;

use super::ColumnDraft;
use super::column_list;

/// Resolves a list of column names written in a table-level key (`what` is
/// `primary_key` or `unique`). Returns `None` when a name was missing or repeated.
pub(super) fn resolve_column_list(
    reporter: &mut Reporter<'_>,
    table: &str,
    what: &str,
    list: &[Spanned<String>],
    columns: &[ColumnDraft],
) -> Option<Vec<usize>> {
    let mut indices = Vec::with_capacity(list.len());
    let mut ok = true;
    for name in list {
        let offset = name.span().start;
        let name = name.get_ref();
        match columns.iter().position(|column| &column.sql_name == name) {
            None => {
                reporter.error(
                    offset,
                    format!("`{what}` of table `{table}` names the column `{name}`, which the table does not have"),
                    Some(format!("columns of `{table}` are {}", column_list(columns))),
                );
                ok = false;
            }
            Some(index) if indices.contains(&index) => {
                reporter.error(
                    offset,
                    format!("`{what}` of table `{table}` names the column `{name}` twice"),
                    Some("remove the repeated name".to_owned()),
                );
                ok = false;
            }
            Some(index) => indices.push(index),
        }
    }
    ok.then_some(indices)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn lower_primary_key(
    reporter: &mut Reporter<'_>,
    table: &str,
    name_offset: usize,
    read_only: bool,
    table_key: Option<Spanned<Vec<Spanned<String>>>>,
    columns: &[ColumnDraft],
    column_key: &[usize],
    nullable_offsets: &[Option<usize>],
) -> Vec<usize> {
    let declared = table_key.is_some() || !column_key.is_empty();
    let key = match table_key {
        None => column_key.to_vec(),
        Some(list) => {
            let offset = list.span().start;
            if let Some(&first) = column_key.first() {
                reporter.error(
                    offset,
                    format!(
                        "table `{table}` declares its primary key twice: with `primary_key = [...]` \
                         and with `primary_key = true` on column `{}`",
                        columns[first].sql_name
                    ),
                    Some(
                        "keep only one of the two forms: `primary_key = [...]` on the table, or \
                         `primary_key = true` on the key columns"
                            .to_owned(),
                    ),
                );
            }
            if list.get_ref().is_empty() {
                reporter.error(
                    offset,
                    format!("`primary_key` of table `{table}` is empty"),
                    Some(
                        "list the key columns, e.g. `primary_key = [\"id\"]`, or remove \
                         `primary_key`"
                            .to_owned(),
                    ),
                );
            }
            resolve_column_list(reporter, table, "primary_key", list.get_ref(), columns)
                .unwrap_or_default()
        }
    };

    for &index in &key {
        if columns[index].array {
            reporter.error(
                name_offset,
                format!(
                    "primary key column `{}` of table `{table}` is a list",
                    columns[index].sql_name
                ),
                Some("key a table by single values: choose other key columns".to_owned()),
            );
        }
        if let Some(offset) = nullable_offsets[index] {
            reporter.error(
                offset,
                format!(
                    "primary key column `{}` of table `{table}` is nullable",
                    columns[index].sql_name
                ),
                Some("remove `nullable = true`: primary key columns cannot be null".to_owned()),
            );
        }
    }

    if !declared && !read_only && !table.is_empty() && !columns.is_empty() {
        reporter.error(
            name_offset,
            format!("table `{table}` has no primary key"),
            Some(
                "add `primary_key = true` to a column, or `primary_key = [\"a\", \"b\"]` to the \
                 table, or set `read_only = true` if it is a view"
                    .to_owned(),
            ),
        );
    }
    key
}

pub(super) fn lower_unique(
    reporter: &mut Reporter<'_>,
    table: &str,
    table_unique: Vec<Spanned<Vec<Spanned<String>>>>,
    columns: &[ColumnDraft],
    column_unique: &[usize],
    primary_key: &[usize],
) -> Vec<Vec<usize>> {
    let mut candidates: Vec<Vec<usize>> = column_unique.iter().map(|&index| vec![index]).collect();
    for set in table_unique {
        if set.get_ref().is_empty() {
            reporter.error(
                set.span().start,
                format!("empty unique constraint in table `{table}`"),
                Some(
                    "list the columns whose combination is unique, e.g. `unique = [[\"a\", \
                     \"b\"]]`"
                        .to_owned(),
                ),
            );
            continue;
        }
        if let Some(indices) =
            resolve_column_list(reporter, table, "unique", set.get_ref(), columns)
        {
            candidates.push(indices);
        }
    }

    let mut unique: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    let mut seen: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if candidate.len() == 1 && primary_key == candidate.as_slice() {
            continue;
        }
        let mut sorted = candidate.clone();
        sorted.sort_unstable();
        if seen.contains(&sorted) {
            continue;
        }
        seen.push(sorted);
        unique.push(candidate);
    }
    unique
}
