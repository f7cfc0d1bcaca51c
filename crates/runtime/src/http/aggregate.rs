//! Aggregate requests (`/{table}/aggregate/`): `?group_by=`, `?count=`, `?sum=`, `?avg=`,
//! `?min=`, `?max=`, with the list's filters, `?search=`, `?ordering=` and numbered pages;
//! and what OPTIONS says a table's aggregates take.

use serde_json::{Value, json};

use crate::connections::db::BackendKind;
use crate::data::aggregate::{AggregateQuery, Measure, NamedMeasure};
use crate::data::meta::{ColumnMeta, TableMeta};
use crate::http::error::{ApiError, FieldErrors};
use crate::http::list::{self, PageNumber, PageSettings};

pub use tenantapi_schema::api_rules::{
    AGGREGATE_PARAMETERS, Aggregate, MAX_AGGREGATES, MAX_GROUP_BY_FIELDS, is_groupable,
};

/// A parsed aggregate request: its statement, and which page of groups.
#[derive(Debug, Clone)]
pub struct AggregateRequest {
    pub query: AggregateQuery,
    pub page: PageNumber,
    pub page_size: u64,
}

/// List parameters that have no meaning for groups: 400 rather than ignored.
const ROW_ONLY_PARAMETERS: &[&str] = &["cursor", "fields", "omit", "expand"];

/// Parses an aggregate request's parameters for `meta` on `backend`.
pub fn parse_aggregate_request(
    meta: &'static TableMeta,
    backend: BackendKind,
    pairs: &[(String, String)],
    settings: PageSettings,
    related: &dyn Fn(&str) -> Option<&'static TableMeta>,
) -> Result<AggregateRequest, ApiError> {
    let last = |name: &str| list::last_value(pairs, name);
    let row_only: Vec<&str> = ROW_ONLY_PARAMETERS
        .iter()
        .copied()
        .filter(|name| last(name).is_some())
        .collect();
    if !row_only.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "{} select(s) rows, and aggregates answer groups: drop it. Choose a group's fields with group_by= and what to compute with count=, sum=, avg=, min= or max=; page with page= and page_size=.",
            row_only.join(", ")
        )));
    }
    match last("format") {
        None | Some("json") => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Aggregates are answered in JSON only: drop format=, or use format=json.".into(),
            ));
        }
    }
    let mut errors = FieldErrors::new();
    let mut measures = group_by(meta, pairs, &mut errors);
    let groups = measures.len();
    for (key, value) in pairs {
        let Some(aggregate) = Aggregate::ALL
            .into_iter()
            .find(|aggregate| aggregate.parameter() == key)
        else {
            continue;
        };
        for item in value.split(',').map(str::trim) {
            match measure_of(meta, aggregate, item) {
                Ok(named) if measures.contains(&named) => {}
                Ok(named) => measures.push(named),
                Err(message) => errors.add(key.clone(), message),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if measures.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Say what to compute: count= (rows), count=field (values), count=distinct:field, sum=field, avg=field, min=field or max=field, each taking a comma-separated list; and group_by=field,... to compute it per group (alone, group_by= lists the groups). {}",
            describe_fields(meta)
        )));
    }
    if measures.len() - groups > MAX_AGGREGATES {
        return Err(ApiError::BadRequest(format!(
            "Ask for at most {MAX_AGGREGATES} aggregates in one request, not {}.",
            measures.len() - groups
        )));
    }
    if let Some(name) = repeated_name(&measures) {
        return Err(ApiError::BadRequest(format!(
            "Two results of this request would be named \"{name}\" (a group_by field and an aggregate): group by the field, or compute the aggregate, in separate requests."
        )));
    }
    let order = ordering(&measures, groups, last("ordering"))?;
    let filter =
        list::parse_filter_and_search(meta, backend, pairs, AGGREGATE_PARAMETERS, related)?;
    let (page, page_size) = list::parse_page_and_size(pairs, settings)?;
    Ok(AggregateRequest {
        query: AggregateQuery {
            table: meta,
            backend,
            measures,
            filter,
            order,
        },
        page,
        page_size,
    })
}

/// `?group_by=a,b` (or repeated): the group fields, in order, once each.
fn group_by(
    meta: &'static TableMeta,
    pairs: &[(String, String)],
    errors: &mut FieldErrors,
) -> Vec<NamedMeasure> {
    let mut groups: Vec<NamedMeasure> = Vec::new();
    let Some(value) = list::joined_values(pairs, "group_by") else {
        return groups;
    };
    for name in value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        match meta.column(name) {
            Some(column) if is_groupable(column.shape()) => {
                if !groups.iter().any(|group| group.name == column.name) {
                    groups.push(NamedMeasure {
                        name: column.name.to_string(),
                        measure: Measure::Group(column),
                    });
                }
            }
            Some(_) => errors.add(
                "group_by",
                format!(
                    "\"{name}\" cannot be grouped by (lists, JSON, bytes and values served as text cannot). Group by: {}.",
                    groupable_names(meta).join(", ")
                ),
            ),
            None => errors.add(
                "group_by",
                format!(
                    "\"{name}\" is not a field of {}. Group by: {}.",
                    meta.name,
                    groupable_names(meta).join(", ")
                ),
            ),
        }
    }
    if groups.len() > MAX_GROUP_BY_FIELDS {
        errors.add(
            "group_by",
            format!("Group by at most {MAX_GROUP_BY_FIELDS} fields."),
        );
    }
    groups
}

/// One item of `?count=`, `?sum=`... as a named result.
fn measure_of(
    meta: &'static TableMeta,
    aggregate: Aggregate,
    item: &str,
) -> Result<NamedMeasure, String> {
    let parameter = aggregate.parameter();
    if aggregate == Aggregate::Count && (item.is_empty() || item == "*") {
        return Ok(NamedMeasure {
            name: "count".into(),
            measure: Measure::Rows,
        });
    }
    let (distinct, name) = match item.strip_prefix("distinct:") {
        Some(name) if aggregate == Aggregate::Count => (true, name),
        _ => (false, item),
    };
    let what_it_takes = || {
        let names = fields_taking(meta, aggregate, distinct);
        if names.is_empty() {
            format!("{} has no field it takes.", meta.name)
        } else {
            format!("It takes: {}.", names.join(", "))
        }
    };
    if name.is_empty() {
        return Err(format!(
            "Name a field: {parameter}=field (several comma-separated). {}",
            what_it_takes()
        ));
    }
    let Some(column) = meta.column(name) else {
        return Err(format!(
            "\"{name}\" is not a field of {}. {}",
            meta.name,
            what_it_takes()
        ));
    };
    if !takes(aggregate, distinct, column) {
        return Err(format!(
            "{parameter}{} does not apply to \"{name}\" ({}). {}",
            if distinct { "=distinct:" } else { "" },
            column.kind.spelling(),
            what_it_takes()
        ));
    }
    let measure = match (aggregate, distinct) {
        (Aggregate::Count, true) => Measure::CountDistinct(column),
        (Aggregate::Count, false) => Measure::Count(column),
        (Aggregate::Sum, _) => Measure::Sum(column),
        (Aggregate::Avg, _) => Measure::Avg(column),
        (Aggregate::Min, _) => Measure::Min(column),
        (Aggregate::Max, _) => Measure::Max(column),
    };
    Ok(NamedMeasure {
        name: aggregate.result_name(column.name, distinct),
        measure,
    })
}

/// The first name two results share, if any.
fn repeated_name(measures: &[NamedMeasure]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    measures
        .iter()
        .map(|named| named.name.as_str())
        .find(|name| !seen.insert(*name))
}

/// `?ordering=` over the results' names (`-` for descending), completed by the group fields
/// (ascending) so that the order of groups is total. Without one: by the group fields.
fn ordering(
    measures: &[NamedMeasure],
    groups: usize,
    ordering: Option<&str>,
) -> Result<Vec<(usize, bool)>, ApiError> {
    let mut order: Vec<(usize, bool)> = Vec::new();
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
        match measures.iter().position(|named| named.name == name) {
            Some(index) if !order.iter().any(|(existing, _)| *existing == index) => {
                order.push((index, descending))
            }
            Some(_) => {}
            None => unknown.push(term.to_string()),
        }
    }
    if !unknown.is_empty() {
        let names: Vec<&str> = measures.iter().map(|named| named.name.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "Unknown ordering field(s): {}. Order groups by the names of this request's results ({}), comma-separated, with - for descending.",
            unknown.join(", "),
            names.join(", ")
        )));
    }
    for index in 0..groups {
        if !order.iter().any(|(existing, _)| *existing == index) {
            order.push((index, false));
        }
    }
    if order.is_empty() {
        // One group (no group_by): any order is the order.
        order.push((0, false));
    }
    Ok(order)
}

fn groupable_names(meta: &TableMeta) -> Vec<&'static str> {
    meta.columns
        .iter()
        .filter(|column| is_groupable(column.shape()))
        .map(|column| column.name)
        .collect()
}

/// The fields `aggregate` (a distinct count when `distinct`) takes.
fn fields_taking(meta: &TableMeta, aggregate: Aggregate, distinct: bool) -> Vec<&'static str> {
    meta.columns
        .iter()
        .filter(|column| takes(aggregate, distinct, column))
        .map(|column| column.name)
        .collect()
}

fn takes(aggregate: Aggregate, distinct: bool, column: &ColumnMeta) -> bool {
    if distinct {
        is_groupable(column.shape())
    } else {
        aggregate.applies_to(column.shape())
    }
}

/// What each parameter takes on this table, for messages.
fn describe_fields(meta: &TableMeta) -> String {
    let list = |names: Vec<&str>| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    format!(
        "On {}: group_by and count=distinct: take {}; sum and avg take {}; min and max take {}.",
        meta.name,
        list(groupable_names(meta)),
        list(fields_taking(meta, Aggregate::Sum, false)),
        list(fields_taking(meta, Aggregate::Min, false)),
    )
}

/// What OPTIONS says a table's aggregates take: each parameter with its fields.
pub fn metadata(meta: &TableMeta) -> Value {
    json!({
        "group_by": groupable_names(meta),
        "count": fields_taking(meta, Aggregate::Count, false),
        "count_distinct": fields_taking(meta, Aggregate::Count, true),
        "sum": fields_taking(meta, Aggregate::Sum, false),
        "avg": fields_taking(meta, Aggregate::Avg, false),
        "min": fields_taking(meta, Aggregate::Min, false),
        "max": fields_taking(meta, Aggregate::Max, false),
    })
}
