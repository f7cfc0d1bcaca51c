//! `search`: the fields `?search=` matches, DRF's `search_fields`, checked once every table and
//! foreign key is known (a field may be a column of the row a foreign key references).

use toml::Spanned;

use crate::error::Reporter;
use crate::model::{SearchField, SearchMode, Table};
use crate::names;

/// The most fields one table's search may name: each is a condition per term.
pub const MAX_SEARCH_FIELDS: usize = 16;

/// Resolves each table's written `search` (`name`, `^code`, `=ref`, `@body`, `site.name`)
/// against the built tables, reporting every problem at its place.
pub(super) fn resolve_search(
    reporter: &mut Reporter<'_>,
    tables: &[Table],
    written: Vec<Option<Spanned<Vec<Spanned<String>>>>>,
) -> Vec<Vec<SearchField>> {
    tables
        .iter()
        .zip(written)
        .map(|(table, written)| match written {
            None => Vec::new(),
            Some(written) => resolve_table(reporter, tables, table, written),
        })
        .collect()
}

fn resolve_table(
    reporter: &mut Reporter<'_>,
    tables: &[Table],
    table: &Table,
    written: Spanned<Vec<Spanned<String>>>,
) -> Vec<SearchField> {
    let name = &table.sql_name;
    if written.get_ref().is_empty() {
        reporter.error(
            written.span().start,
            format!("`search` of table `{name}` is empty"),
            Some("name at least one field, or remove `search`".to_owned()),
        );
        return Vec::new();
    }
    if written.get_ref().len() > MAX_SEARCH_FIELDS {
        reporter.error(
            written.span().start,
            format!(
                "`search` of table `{name}` names {} fields; at most {MAX_SEARCH_FIELDS} are allowed",
                written.get_ref().len()
            ),
            Some("search the fields clients look for; filter on the others".to_owned()),
        );
        return Vec::new();
    }
    let mut fields = Vec::new();
    for field in written.into_inner() {
        let offset = field.span().start;
        match resolve_field(tables, table, field.get_ref()) {
            Ok(resolved) if fields.contains(&resolved) => reporter.error(
                offset,
                format!(
                    "`search` of table `{name}` names `{}` twice",
                    field.get_ref()
                ),
                Some("remove the repeated field".to_owned()),
            ),
            Ok(resolved) => fields.push(resolved),
            Err((message, help)) => reporter.error(offset, message, Some(help)),
        }
    }
    fields
}

/// One written field, or the message and help line of why it cannot be searched.
fn resolve_field(
    tables: &[Table],
    table: &Table,
    written: &str,
) -> Result<SearchField, (String, String)> {
    let name = &table.sql_name;
    let (mode, path) = SearchMode::split(written);
    let (via, holder, column_name) = match path.split_once('.') {
        None => (None, table, path),
        Some((relation, column)) => {
            if column.contains('.') {
                return Err((
                    format!(
                        "`search` of table `{name}` names `{written}`, more than one relation deep"
                    ),
                    "search a field of the table, or of a row one of its foreign keys references (`relation.field`)".to_owned(),
                ));
            }
            let relations: Vec<&str> = table
                .foreign_keys
                .iter()
                .map(|key| names::relation_name(&table.columns[key.column].sql_name))
                .collect();
            let Some(index) = relations.iter().position(|known| *known == relation) else {
                return Err((
                    format!(
                        "`search` of table `{name}` names the relation `{relation}`, which the table does not have"
                    ),
                    if relations.is_empty() {
                        format!("`{name}` has no foreign key to search through")
                    } else {
                        format!(
                            "relations of `{name}` (its foreign keys, without `_id`) are {}",
                            relations.join(", ")
                        )
                    },
                ));
            };
            let key = &table.foreign_keys[index];
            (Some(index), &tables[key.references_table], column)
        }
    };
    let Some(column) = holder
        .columns
        .iter()
        .position(|candidate| candidate.sql_name == column_name)
    else {
        return Err((
            format!(
                "`search` of table `{name}` names the column `{column_name}`, which `{}` does not have",
                holder.sql_name
            ),
            format!(
                "columns of `{}` are {}",
                holder.sql_name,
                holder
                    .columns
                    .iter()
                    .map(|column| format!("`{}`", column.sql_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let described = &holder.columns[column];
    let full_text_column = mode == SearchMode::FullText
        && described
            .database_type
            .as_deref()
            .is_some_and(|database_type| database_type.eq_ignore_ascii_case("tsvector"));
    if !full_text_column && !mode.lookup().applies_to(described.shape()) {
        return Err((
            format!(
                "`search` of table `{name}` names `{written}`: `{column_name}` is {}{}, which a search that is {} cannot match",
                described.ty.kind().spelling(),
                if described.array { " (a list)" } else { "" },
                mode.word()
            ),
            if mode == SearchMode::Exact {
                "search text, numbers, dates or identifiers; filter on the others".to_owned()
            } else {
                format!(
                    "search text columns this way; for `{column_name}`, exact matches (`={path}`) or a filter"
                )
            },
        ));
    }
    Ok(SearchField { mode, via, column })
}
