//! `[version_source]`: the table and column where a live database records its version.

use toml::Spanned;

use crate::error::Reporter;
use crate::model::VersionSource;
use crate::raw::RawVersionSource;

use super::TableDraft;
use super::column_list;

pub(super) fn lower_version_source(
    reporter: &mut Reporter<'_>,
    raw: Option<Spanned<RawVersionSource>>,
    tables: &[TableDraft],
) -> Option<VersionSource> {
    let Some(raw) = raw else {
        reporter.error(
            0,
            "missing `[version_source]`",
            Some(
                "add a `[version_source]` section with `table = \"...\"` and `column = \"...\"`: \
                 where the project databases record their structure version"
                    .to_owned(),
            ),
        );
        return None;
    };
    let section_offset = raw.span().start;
    let raw = raw.into_inner();
    let mut missing = |key: &str| {
        reporter.error(
            section_offset,
            format!("`[version_source]` has no `{key}`"),
            Some(format!(
                "add `{key} = \"...\"` naming the {key} that holds the structure version"
            )),
        );
    };
    let table_name = raw.table.or_else(|| {
        missing("table");
        None
    });
    let column_name = raw.column.or_else(|| {
        missing("column");
        None
    });
    let (table_name, column_name) = (table_name?, column_name?);

    let Some(table) = tables
        .iter()
        .find(|table| &table.sql_name == table_name.get_ref())
    else {
        reporter.error(
            table_name.span().start,
            format!(
                "`version_source` names the table `{}`, which is not described in this file",
                table_name.get_ref()
            ),
            Some(
                "describe that table with a `[[table]]` entry (with `read_only = true` if the API \
                 must not write it), or name a described table"
                    .to_owned(),
            ),
        );
        return None;
    };
    if table.column_index(column_name.get_ref()).is_none() {
        reporter.error(
            column_name.span().start,
            format!(
                "`version_source` names the column `{}`, which table `{}` does not have",
                column_name.get_ref(),
                table.sql_name
            ),
            Some(format!(
                "columns of `{}` are {}",
                table.sql_name,
                column_list(&table.columns)
            )),
        );
        return None;
    }
    Some(VersionSource {
        table: table_name.into_inner(),
        column: column_name.into_inner(),
    })
}
