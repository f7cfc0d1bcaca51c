//! `?search=`: Django REST Framework's `SearchFilter` over the fields the description names
//! (`search`): the terms split on whitespace and commas, every term must match some field, each
//! field as its prefix says (none: contains, `^`: starts with, `=`: exact, `@`: full text on
//! PostgreSQL), ignoring case, on a column of the table or of the row a foreign key references.

use tenantapi_schema::api_rules::{MAX_SEARCH_TERM_CHARACTERS, MAX_SEARCH_TERMS};

use super::add_condition;
use crate::connections::db::BackendKind;
use crate::data::meta::{ColumnMeta, Lookup, SearchFieldMeta, SearchMode, TableMeta};
use crate::data::sql::{SqlFilter, SqlValue};
use crate::http::error::{ApiError, FieldErrors};

/// The terms of a search value: split on whitespace and commas, as DRF splits them.
pub fn search_terms(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|term| !term.is_empty())
        .collect()
}

/// Adds `?search=value` to `filter`: one condition per term, each the fields ORed. A value
/// without terms searches nothing (DRF ignores it).
pub(super) fn add_search(
    filter: &mut SqlFilter,
    meta: &TableMeta,
    backend: BackendKind,
    value: &str,
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<(), ApiError> {
    let terms = search_terms(value);
    if terms.is_empty() {
        return Ok(());
    }
    if meta.search.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Unknown filter parameter(s): search. {} has no search fields (its description names none in `search`); filter on a field instead.",
            meta.name
        )));
    }
    let problem = if terms.len() > MAX_SEARCH_TERMS {
        Some(format!(
            "Ensure this search has no more than {MAX_SEARCH_TERMS} terms (words separated by spaces or commas)."
        ))
    } else if terms
        .iter()
        .any(|term| term.chars().count() > MAX_SEARCH_TERM_CHARACTERS)
    {
        Some(format!(
            "Ensure each search term has no more than {MAX_SEARCH_TERM_CHARACTERS} characters."
        ))
    } else if value.contains('\0') {
        Some(crate::data::convert::NULL_CHARACTER.to_string())
    } else {
        None
    };
    if let Some(message) = problem {
        return Err(ApiError::Validation(FieldErrors::single("search", message)));
    }
    for term in terms {
        filter.begin_condition().mark_uncacheable().sql("(");
        for (position, field) in meta.search.iter().enumerate() {
            if position > 0 {
                filter.sql(" OR ");
            }
            filter.append(field_condition(meta, field, backend, term, related)?);
        }
        filter.sql(")");
    }
    Ok(())
}

/// One field's condition for one term; a term the field's values cannot be (a word for a
/// number's `=`) matches nothing there.
fn field_condition(
    meta: &TableMeta,
    field: &SearchFieldMeta,
    backend: BackendKind,
    term: &str,
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<SqlFilter, ApiError> {
    let missing = || {
        ApiError::internal(
            "search field without its column",
            format!("{}: {}", meta.name, field.written),
        )
    };
    let Some(index) = field.via else {
        let column = meta.column(field.column).ok_or_else(missing)?;
        return Ok(column_condition(column, field.mode, backend, term));
    };
    let key = &meta.foreign_keys[index];
    let target = related(key.references_table).ok_or_else(missing)?;
    let column = target.column(field.column).ok_or_else(missing)?;
    let mut condition = SqlFilter::all();
    condition
        .begin_condition()
        .identifier(meta.columns[key.column].name)
        .sql(" IN (SELECT ")
        .identifier(key.references_column)
        .sql(" FROM ")
        .identifier(key.references_table)
        .sql(" WHERE ")
        .append(column_condition(column, field.mode, backend, term))
        .sql(")");
    Ok(condition)
}

fn column_condition(
    column: &'static ColumnMeta,
    mode: SearchMode,
    backend: BackendKind,
    term: &str,
) -> SqlFilter {
    let mut condition = SqlFilter::all();
    let lookup = match (mode, backend) {
        (SearchMode::StartsWith, _) => Lookup::IStartsWith,
        (SearchMode::Exact, _) if column.kind.is_textual() => {
            condition
                .begin_condition()
                .sql("lower(")
                .identifier(column.name)
                .sql(") = lower(")
                .bind(SqlValue::Text(term.to_string()))
                .sql(")");
            return condition;
        }
        (SearchMode::Exact, _) => Lookup::Exact,
        (SearchMode::FullText, BackendKind::Postgres) => {
            let stored_as_tsvector = column
                .database_type
                .is_some_and(|database_type| database_type.eq_ignore_ascii_case("tsvector"));
            condition.begin_condition();
            if stored_as_tsvector {
                condition.identifier(column.name);
            } else {
                condition
                    .sql("to_tsvector(CAST(")
                    .identifier(column.name)
                    .sql(" AS text))");
            }
            condition
                .sql(" @@ plainto_tsquery(")
                .bind(SqlValue::Text(term.to_string()))
                .sql(")");
            return condition;
        }
        (SearchMode::Contains | SearchMode::FullText, _) => Lookup::IContains,
    };
    if add_condition(&mut condition, backend, column, lookup, term).is_err() {
        condition = SqlFilter::all();
        condition.begin_condition().sql("1 = 0");
    }
    condition
}

#[cfg(test)]
mod tests {
    use super::search_terms;

    #[test]
    fn terms_split_on_whitespace_and_commas_as_drf_splits_them() {
        assert_eq!(
            search_terms(" boiler,north\tfeed ,, \n"),
            ["boiler", "north", "feed"]
        );
        assert!(search_terms(" , ").is_empty());
        assert_eq!(search_terms("Straße"), ["Straße"]);
    }
}
