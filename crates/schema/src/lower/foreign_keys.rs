//! `references`: foreign keys resolved across tables, with compatible types.

use std::collections::HashMap;

use crate::error::Reporter;
use crate::model::ColumnType;
use crate::model::ForeignKey;

use super::TableDraft;
use super::column_list;

pub(super) fn types_compatible(a: ColumnType, b: ColumnType) -> bool {
    match (a, b) {
        (a, b) if a.is_integer() && b.is_integer() => true,
        (
            ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Char { .. },
            ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Char { .. },
        ) => true,
        (a, b) => a == b,
    }
}

/// Resolves `references` into foreign keys, per table.
pub(super) fn resolve_foreign_keys(
    reporter: &mut Reporter<'_>,
    tables: &[TableDraft],
) -> Vec<Vec<ForeignKey>> {
    let mut table_by_name: HashMap<&str, usize> = HashMap::new();
    for (index, table) in tables.iter().enumerate() {
        if !table.sql_name.is_empty() {
            table_by_name.entry(&table.sql_name).or_insert(index);
        }
    }

    let mut all = Vec::with_capacity(tables.len());
    for table in tables {
        let mut foreign_keys = Vec::new();
        for (column_index, column) in table.columns.iter().enumerate() {
            let Some(reference) = &column.references else {
                continue;
            };
            let offset = reference.span().start;
            let text = reference.get_ref();
            let owner = format!("{}.{}", table.sql_name, column.sql_name);
            let parts = text
                .split_once('.')
                .filter(|(t, c)| !t.is_empty() && !c.is_empty() && !c.contains('.'));
            let Some((target_table, target_column)) = parts else {
                reporter.error(
                    offset,
                    format!("malformed reference `{text}` on column `{owner}`"),
                    Some(
                        "write the referenced table and column separated by a dot, e.g. \
                         `references = \"site.id\"`"
                            .to_owned(),
                    ),
                );
                continue;
            };
            let Some(&target_index) = table_by_name.get(target_table) else {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references the table `{target_table}`, which is not \
                         described in this file"
                    ),
                    Some(format!(
                        "describe `{target_table}` with a `[[table]]` entry, or reference one of \
                         the described tables"
                    )),
                );
                continue;
            };
            let target = &tables[target_index];
            let Some(target_column_index) = target
                .columns
                .iter()
                .position(|candidate| candidate.sql_name == target_column)
            else {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references `{text}`, but table `{target_table}` has no \
                         column `{target_column}`"
                    ),
                    Some(format!(
                        "columns of `{target_table}` are {}",
                        column_list(&target.columns)
                    )),
                );
                continue;
            };
            let referenced = &target.columns[target_column_index];

            let is_key = target.primary_key == [target_column_index]
                || target
                    .unique
                    .iter()
                    .any(|set| set.as_slice() == [target_column_index]);
            if !is_key {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references `{text}`, which is neither a single-column \
                         primary key nor unique"
                    ),
                    Some(format!(
                        "reference the primary key of `{target_table}`, or add `unique = true` to \
                         its column `{target_column}`"
                    )),
                );
            }
            if column.array || referenced.array {
                reporter.error(
                    offset,
                    format!("column `{owner}` references `{text}`, and one of them is a list"),
                    Some("foreign keys join single values: remove `references`".to_owned()),
                );
            } else if let (Some(own_type), Some(referenced_type)) = (column.ty, referenced.ty)
                && !types_compatible(own_type, referenced_type)
            {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` of type `{}` references `{text}` of type `{}`",
                        own_type.spelling(),
                        referenced_type.spelling()
                    ),
                    Some(
                        "give both columns the same type; smallint, integer, bigint, serial and \
                         bigserial are compatible with each other, and so are text, varchar and \
                         char of any length"
                            .to_owned(),
                    ),
                );
            }
            foreign_keys.push(ForeignKey {
                column: column_index,
                references_table: target_index,
                references_column: target_column_index,
                on_delete: column.on_delete,
            });
        }
        all.push(foreign_keys);
    }
    all
}
