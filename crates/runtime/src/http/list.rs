//! List requests: `?field__lookup=value` filters, `?ordering=`, `?page=`, `?page_size=`,
//! `?count=` and `?cursor=`.

use crate::connections::db::BackendKind;
use crate::data::convert;
use crate::data::meta::{ColumnKind, ColumnMeta, Lookup, TableMeta};
use crate::data::sql::{SqlFilter, SqlOrder, SqlValue};
use crate::http::error::{ApiError, FieldErrors};

pub use tenantapi_schema::api_rules::{
    CountMode, DEFAULT_MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, EXACT_COUNT_BELOW, MAX_IN_ITEMS,
    MAX_PATTERN_CHARACTERS,
};

/// Query parameters that are never column filters.
pub use tenantapi_schema::model::RESERVED_QUERY_PARAMETERS as RESERVED_PARAMETERS;

/// Page size limits, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSettings {
    pub default_page_size: u64,
    pub max_page_size: u64,
}

impl Default for PageSettings {
    fn default() -> Self {
        PageSettings {
            default_page_size: DEFAULT_PAGE_SIZE,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

/// Which page the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    Number(u64),
    Last,
}

/// Page numbers (DRF's `PageNumberPagination`) or positions (its `CursorPagination`).
#[derive(Debug, Clone, PartialEq)]
pub enum Paging {
    Numbered {
        page: PageNumber,
        count: CountMode,
    },
    /// `?cursor=`: empty for the first page, else a cursor from a `next` or `previous` link.
    Cursor(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub filter: SqlFilter,
    pub order: SqlOrder,
    pub paging: Paging,
    pub page_size: u64,
}

/// A query string's parameters in order, decoded; 400 if it is not URL encoding.
pub fn query_pairs(query_string: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query_string)
        .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding.".into()))
}

/// The value of parameter `name`: like Django's `QueryDict.get`, the last of repeated ones.
pub fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The values of a list-valued parameter (`fields`, `omit`, `expand`) as one comma-separated
/// list: `?fields=a,b` and `?fields=a&fields=b` (how clients that explode lists send them)
/// mean the same.
pub fn joined_values(pairs: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Parses a list request's query string for `meta` on `backend`.
///
/// Unknown filter and ordering fields are rejected with 400 naming them: DRF would ignore
/// them and return every row, which hides typos in clients.
pub fn parse_list_request(
    meta: &TableMeta,
    backend: BackendKind,
    query_string: &str,
    settings: PageSettings,
) -> Result<ListRequest, ApiError> {
    let pairs = query_pairs(query_string)?;
    parse_list_request_with_relations(meta, backend, &pairs, settings, &|_| None)
}

/// [`parse_list_request`] over parameters already decoded (the handlers decode a query string
/// once for every reader of it), also filtering across foreign keys (`?site__code=north`), with
/// `related` finding a referenced table's metadata by name.
pub fn parse_list_request_with_relations(
    meta: &TableMeta,
    backend: BackendKind,
    pairs: &[(String, String)],
    settings: PageSettings,
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<ListRequest, ApiError> {
    let last = |name: &str| last_value(pairs, name);

    // `csv` and `ndjson` are exports (`handlers::export`), which read lists too.
    if let Some(format) = last("format")
        && !matches!(format, "json" | "csv" | "ndjson")
    {
        return Err(ApiError::NotFound);
    }
    let (page, page_size) = parse_page_and_size(pairs, settings)?;
    let count = parse_count(pairs, page)?;
    let order = parse_ordering(meta, last("ordering"))?;
    let paging = match last("cursor") {
        None => Paging::Numbered { page, count },
        Some(cursor) => {
            if last("page").is_some() || last("count").is_some() {
                return Err(ApiError::BadRequest(
                    "Use either cursor (cursor pages have no count) or page and count, not both."
                        .into(),
                ));
            }
            check_cursor_order(meta, &order)?;
            Paging::Cursor(cursor.to_string())
        }
    };
    let filter = parse_filter_and_search(meta, backend, pairs, &[], related)?;
    Ok(ListRequest {
        filter,
        order,
        paging,
        page_size,
    })
}

/// A read's filters and `?search=`: every parameter that is neither reserved for lists nor
/// among `also_reserved` (a route's own parameters) filters.
pub fn parse_filter_and_search(
    meta: &TableMeta,
    backend: BackendKind,
    pairs: &[(String, String)],
    also_reserved: &[&str],
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<SqlFilter, ApiError> {
    let mut filter = parse_filters(meta, backend, pairs, also_reserved, related)?;
    if let Some(value) = last_value(pairs, "search") {
        search::add_search(&mut filter, meta, backend, value, related)?;
    }
    Ok(filter)
}

/// `?page=` and `?page_size=`.
pub fn parse_page_and_size(
    pairs: &[(String, String)],
    settings: PageSettings,
) -> Result<(PageNumber, u64), ApiError> {
    let last = |name: &str| last_value(pairs, name);
    let page = match last("page") {
        None => PageNumber::Number(1),
        Some("last") => PageNumber::Last,
        Some(text) => match text.parse::<u64>() {
            Ok(number) if number >= 1 => PageNumber::Number(number),
            _ => return Err(ApiError::InvalidPage),
        },
    };
    // As DRF: an unusable page_size falls back to the default; a large one is capped.
    let page_size = match last("page_size").and_then(|text| text.parse::<u64>().ok()) {
        Some(size) if size >= 1 => size.min(settings.max_page_size),
        _ => settings.default_page_size,
    };
    Ok((page, page_size))
}

/// `?count=`, and whether it goes with the page asked for.
fn parse_count(pairs: &[(String, String)], page: PageNumber) -> Result<CountMode, ApiError> {
    let last = |name: &str| last_value(pairs, name);
    let count = match last("count") {
        None => CountMode::DEFAULT,
        Some(name) => CountMode::parse(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Unknown count mode \"{other}\". Use count=exact (the default: every matching row counted), count=estimated (the database's estimate for large results) or count=none (no count; faster on large tables).",
                other = name
            ))
        })?,
    };
    if page == PageNumber::Last && count == CountMode::None {
        return Err(ApiError::BadRequest(
            "page=last needs a count to find the last page; drop count=none, or page with ?cursor= and ordering=-field to read from the end.".into(),
        ));
    }
    Ok(count)
}

/// Every query parameter that is not reserved, as a filter: `field`, `field__lookup` or
/// `relation__field[__lookup]`; unknown names are one 400 naming them all, bad values one
/// 400 by field.
fn parse_filters(
    meta: &TableMeta,
    backend: BackendKind,
    pairs: &[(String, String)],
    also_reserved: &[&str],
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<SqlFilter, ApiError> {
    let mut filter = SqlFilter::all();
    let mut unknown = Vec::new();
    let mut errors = FieldErrors::new();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in pairs.iter().rev() {
        if RESERVED_PARAMETERS.contains(&key.as_str())
            || also_reserved.contains(&key.as_str())
            || !seen.insert(key.as_str())
        {
            continue;
        }
        // A column's whole name first (names may hold `__`), then `field__lookup`.
        let (field, lookup_name) = if meta.column(key).is_some() {
            (key.as_str(), "exact")
        } else {
            key.rsplit_once("__").unwrap_or((key.as_str(), "exact"))
        };
        let lookup = meta.column(field).and_then(|column| {
            Lookup::parse(lookup_name)
                .filter(|lookup| lookup.applies_to(column.shape()))
                .map(|lookup| (column, lookup))
        });
        let Some((column, lookup)) = lookup else {
            // Not a field of this table: perhaps one of a row it references.
            match relation_condition(meta, related, backend, key, value) {
                Some(Ok(condition)) => {
                    filter.begin_condition().append(condition);
                }
                Some(Err(message)) => errors.add(key.clone(), message),
                None => unknown.push(key.clone()),
            }
            continue;
        };
        if let Err(message) = add_condition(&mut filter, backend, column, lookup, value) {
            errors.add(key.clone(), message);
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        let filterable: Vec<&str> = meta.columns.iter().map(|column| column.name).collect();
        return Err(ApiError::BadRequest(format!(
            "Unknown filter parameter(s): {}. Filter on a field ({}) with an optional lookup such as __in, __gt, __gte, __lt, __lte, __isnull, for text __contains, __icontains, __startswith, __istartswith, __endswith, or for lists __contains (comma-separated items, all present); or across a foreign key on a field of the row it references, as relation__field[__lookup] (a site_id key is the relation site).",
            unknown.join(", "),
            filterable.join(", ")
        )));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(filter)
}

/// `relation__field[__lookup]`: the rows whose foreign key is among the referenced rows that
/// match, as one `IN (SELECT ...)` condition. `None` when `key` names no relation of `meta`
/// with such a field and lookup; `Err` for a value the field cannot take.
fn relation_condition(
    meta: &TableMeta,
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
    backend: BackendKind,
    key: &str,
    value: &str,
) -> Option<Result<SqlFilter, String>> {
    for foreign_key in meta.foreign_keys {
        let column = &meta.columns[foreign_key.column];
        let relation = tenantapi_schema::names::relation_name(column.name);
        let Some(rest) = key
            .strip_prefix(relation)
            .and_then(|rest| rest.strip_prefix("__"))
        else {
            continue;
        };
        let Some(target) = related(foreign_key.references_table) else {
            continue;
        };
        let (field, lookup_name) = if target.column(rest).is_some() {
            (rest, "exact")
        } else {
            rest.rsplit_once("__").unwrap_or((rest, "exact"))
        };
        let Some(target_column) = target.column(field) else {
            continue;
        };
        let Some(lookup) =
            Lookup::parse(lookup_name).filter(|lookup| lookup.applies_to(target_column.shape()))
        else {
            continue;
        };
        let mut inner = SqlFilter::all();
        if let Err(message) = add_condition(&mut inner, backend, target_column, lookup, value) {
            return Some(Err(message));
        }
        let mut condition = SqlFilter::all();
        condition
            .identifier(column.name)
            .sql(" IN (SELECT ")
            .identifier(foreign_key.references_column)
            .sql(" FROM ")
            .identifier(foreign_key.references_table)
            .sql(" WHERE ")
            .append(inner)
            .sql(")");
        return Some(Ok(condition));
    }
    None
}

/// Cursor pages need a total order of non-null values: ties would make positions ambiguous,
/// and SQL's comparisons with NULL do not follow either backend's ORDER BY.
pub(crate) fn check_cursor_order(meta: &TableMeta, order: &SqlOrder) -> Result<(), ApiError> {
    if !meta.has_primary_key() {
        return Err(ApiError::BadRequest(format!(
            "Cursor pagination needs a table with a primary key, and {} has none; page with ?page= instead.",
            meta.name
        )));
    }
    let nullable: Vec<&str> = order
        .terms()
        .iter()
        .filter(|(name, _)| meta.column(name).is_none_or(|column| column.nullable))
        .map(|(name, _)| *name)
        .collect();
    if !nullable.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Cursor pagination orders by fields that are never null, and {} may be null. Choose an ordering of other fields (the primary key always works), or page with ?page= instead.",
            nullable.join(", ")
        )));
    }
    Ok(())
}

fn parse_ordering(meta: &TableMeta, ordering: Option<&str>) -> Result<SqlOrder, ApiError> {
    let mut terms: Vec<(&'static str, bool)> = Vec::new();
    let mut unknown = Vec::new();
    for term in ordering
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
    {
        let (name, descending) = match term.strip_prefix('-') {
            Some(name) => (name, true),
            None => (term, false),
        };
        match meta.column(name).filter(|column| column.is_orderable()) {
            Some(column) if !terms.iter().any(|(existing, _)| *existing == column.name) => {
                terms.push((column.name, descending))
            }
            Some(_) => {}
            None => unknown.push(term.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Unknown ordering field(s): {}. Order by one or more fields, comma-separated, with - for descending.",
            unknown.join(", ")
        )));
    }
    Ok(SqlOrder::completed(meta, terms))
}

fn add_condition(
    filter: &mut SqlFilter,
    backend: BackendKind,
    column: &'static ColumnMeta,
    lookup: Lookup,
    value: &str,
) -> Result<(), String> {
    let parse = |text: &str| convert::parse_column_text(column, text);
    match lookup {
        Lookup::IsNull => {
            let is_null = convert::parse_boolean(value)
                .ok_or_else(|| convert::INVALID_BOOLEAN.to_string())?;
            filter
                .begin_condition()
                .identifier(column.name)
                .sql(if is_null { " IS NULL" } else { " IS NOT NULL" });
        }
        Lookup::Exact | Lookup::Gt | Lookup::Gte | Lookup::Lt | Lookup::Lte => {
            let operand = parse(value)?;
            let operator = match lookup {
                Lookup::Exact => " = ",
                Lookup::Gt => " > ",
                Lookup::Gte => " >= ",
                Lookup::Lt => " < ",
                _ => " <= ",
            };
            filter.begin_condition();
            filter
                .compared_column(backend, column)
                .sql(operator)
                .bind_for(column, operand);
        }
        Lookup::In => {
            // Each item is a bind parameter; SQLite allows 32,766 per statement.
            if value.split(',').filter(|item| !item.is_empty()).count() > MAX_IN_ITEMS {
                return Err(format!(
                    "Ensure this list has no more than {MAX_IN_ITEMS} items."
                ));
            }
            let operands: Vec<SqlValue> = value
                .split(',')
                .filter(|item| !item.is_empty())
                .map(parse)
                .collect::<Result<_, _>>()?;
            filter.begin_condition().mark_uncacheable();
            if operands.is_empty() {
                filter.sql("1 = 0");
                return Ok(());
            }
            filter.compared_column(backend, column).sql(" IN (");
            for (position, operand) in operands.into_iter().enumerate() {
                if position > 0 {
                    filter.sql(", ");
                }
                filter.bind_for(column, operand);
            }
            filter.sql(")");
        }
        Lookup::Contains if column.array => add_list_contains(filter, backend, column, value)?,
        Lookup::Contains
        | Lookup::IContains
        | Lookup::StartsWith
        | Lookup::IStartsWith
        | Lookup::EndsWith => {
            if value.contains('\0') {
                return Err(convert::NULL_CHARACTER.to_string());
            }
            if value.chars().count() > MAX_PATTERN_CHARACTERS {
                return Err(format!(
                    "Ensure this value has no more than {MAX_PATTERN_CHARACTERS} characters."
                ));
            }
            add_pattern(filter, backend, column, lookup, value);
        }
    }
    Ok(())
}

/// `list__contains=a,b`: the list holds every item. PostgreSQL's `@>` on arrays; on SQLite,
/// where a list is JSON text, one `json_each` test per item against the item's JSON form.
fn add_list_contains(
    filter: &mut SqlFilter,
    backend: BackendKind,
    column: &'static ColumnMeta,
    value: &str,
) -> Result<(), String> {
    let items: Vec<&str> = value.split(',').filter(|item| !item.is_empty()).collect();
    if items.len() > MAX_IN_ITEMS {
        return Err(format!(
            "Ensure this list has no more than {MAX_IN_ITEMS} items."
        ));
    }
    let items: Vec<SqlValue> = items
        .into_iter()
        .map(|item| convert::parse_column_text(column, item))
        .collect::<Result<_, _>>()?;
    filter.begin_condition().mark_uncacheable();
    match backend {
        BackendKind::Postgres => {
            filter
                .identifier(column.name)
                .sql(" @> ")
                .bind_for(column, SqlValue::List(items));
        }
        BackendKind::Sqlite if items.is_empty() => {
            // Every list contains no items; a missing list contains nothing.
            filter.identifier(column.name).sql(" IS NOT NULL");
        }
        BackendKind::Sqlite => {
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    filter.sql(" AND ");
                }
                filter
                    .sql("EXISTS (SELECT 1 FROM json_each(")
                    .identifier(column.name)
                    .sql(") WHERE json_each.value = ")
                    .bind(json_scalar(item.to_json()))
                    .sql(")");
            }
        }
    }
    Ok(())
}

/// A JSON scalar as SQLite's `json_each` yields it: text, an integer (booleans too) or a real.
fn json_scalar(value: serde_json::Value) -> SqlValue {
    match value {
        serde_json::Value::Bool(flag) => SqlValue::BigInt(i64::from(flag)),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => SqlValue::BigInt(integer),
            None => SqlValue::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => SqlValue::Text(text),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Text lookups. PostgreSQL uses LIKE/ILIKE; SQLite uses GLOB, which is case-sensitive where
/// its LIKE is not, and LIKE for the case-insensitive lookups (ASCII case folding only).
/// Case-insensitive text (`citext`) matches without regard to case on both.
fn add_pattern(
    filter: &mut SqlFilter,
    backend: BackendKind,
    column: &'static ColumnMeta,
    lookup: Lookup,
    value: &str,
) {
    let case_insensitive = matches!(lookup, Lookup::IContains | Lookup::IStartsWith)
        || column.kind == ColumnKind::Citext;
    let column = column.name;
    let (prefix_any, suffix_any) = match lookup {
        Lookup::Contains | Lookup::IContains => (true, true),
        Lookup::StartsWith | Lookup::IStartsWith => (false, true),
        _ => (true, false),
    };
    let use_glob = backend == BackendKind::Sqlite && !case_insensitive;
    let (any, escaped) = if use_glob {
        ("*", escape_glob(value))
    } else {
        ("%", escape_like(value))
    };
    let pattern = format!(
        "{}{escaped}{}",
        if prefix_any { any } else { "" },
        if suffix_any { any } else { "" }
    );
    // Not kept prepared: PostgreSQL's generic plan of `LIKE $1` cannot know whether the pattern
    // starts with a wildcard, and settled on a sequential scan where a trigram index serves
    // the pattern (`xtask/bench/search.sh`: 2.4 req/s against 1,704 planned per pattern).
    filter
        .begin_condition()
        .mark_uncacheable()
        .identifier(column);
    match (use_glob, backend, case_insensitive) {
        (true, _, _) => filter.sql(" GLOB "),
        (false, BackendKind::Postgres, true) => filter.sql(" ILIKE "),
        _ => filter.sql(" LIKE "),
    };
    filter.bind(SqlValue::Text(pattern));
    if !use_glob {
        filter.sql(" ESCAPE '\\'");
    }
}

fn escape_like(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn escape_glob(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '*' => escaped.push_str("[*]"),
            '?' => escaped.push_str("[?]"),
            '[' => escaped.push_str("[[]"),
            other => escaped.push(other),
        }
    }
    escaped
}

mod search;
pub use search::search_terms;

#[cfg(test)]
mod tests;
