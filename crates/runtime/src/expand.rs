//! `?expand=`: foreign keys replaced by the rows they reference (drf-flex-fields'
//! convention: `"site_id": 1` becomes `"site_id": {"id": 1, ...}`), and reverse relations
//! added as lists (`reading_set`: the rows that reference this one, at most
//! [`MAX_REVERSE_ROWS`] each), nested with dots (`data_point.site`) to a depth of
//! [`MAX_DEPTH`]. One query per relation and level for a whole page, never one per row, inside
//! the read's own unit of work on the project's database.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::convert;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::list;
use crate::meta::{ColumnMeta, TableMeta};
use crate::sql::SqlFilter;
use crate::table_ops::TableOps;

/// How many relations deep an expansion may reach (`a.b.c`).
pub const MAX_DEPTH: usize = 3;

/// Rows a reverse relation lists per row at most (the first by primary key).
pub const MAX_REVERSE_ROWS: usize = 100;

/// The relations to expand, as a tree: each with the expansions of the rows it brings.
#[derive(Clone, Default)]
pub struct Expansions {
    children: Vec<(Relation, Expansions)>,
}

#[derive(Clone)]
pub(crate) enum Relation {
    /// The foreign key `column` is replaced by the `target` row whose `key` it holds.
    Forward {
        column: &'static ColumnMeta,
        key: &'static ColumnMeta,
        target: &'static TableOps,
    },
    /// `name` (`reading_set`) lists the `child` rows whose `column` holds this row's `key`.
    Reverse {
        name: String,
        child: &'static TableOps,
        column: &'static ColumnMeta,
        key: &'static ColumnMeta,
    },
}

impl Relation {
    /// Where the expanded rows come from: their own relations are expanded from there.
    pub(crate) fn rows_of(&self) -> &'static TableOps {
        match self {
            Relation::Forward { target, .. } => target,
            Relation::Reverse { child, .. } => child,
        }
    }

    /// The field the expansion writes: the key's own, or the list's.
    pub(crate) fn field(&self) -> &str {
        match self {
            Relation::Forward { column, .. } => column.name,
            Relation::Reverse { name, .. } => name,
        }
    }
}

/// The relations of `meta`, by the name each is expanded by: its foreign keys (the key
/// column's name without `_id`), and the tables that reference it once (`{table}_set`, as
/// Django names them; a table that references it through several keys is left out, and so is
/// one without a primary key, whose rows cannot be bounded per row).
pub(crate) fn relations(meta: &TableMeta, all: &[&'static TableOps]) -> Vec<(String, Relation)> {
    let by_name = |name: &str| all.iter().copied().find(|ops| ops.meta.name == name);
    let mut found: Vec<(String, Relation)> = meta
        .foreign_keys
        .iter()
        .filter_map(|foreign_key| {
            let column = &meta.columns[foreign_key.column];
            let target = by_name(foreign_key.references_table)?;
            let key = target.meta.column(foreign_key.references_column)?;
            Some((
                tenantapi_schema::names::relation_name(column.name).to_string(),
                Relation::Forward {
                    column,
                    key,
                    target,
                },
            ))
        })
        .collect();
    for child in all {
        let mut references = child
            .meta
            .foreign_keys
            .iter()
            .filter(|foreign_key| foreign_key.references_table == meta.name);
        let (Some(foreign_key), None) = (references.next(), references.next()) else {
            continue;
        };
        let Some(key) = meta.column(foreign_key.references_column) else {
            continue;
        };
        if child.meta.primary_key.is_empty() {
            continue;
        }
        let name = format!("{}_set", child.meta.name);
        found.push((
            name.clone(),
            Relation::Reverse {
                name,
                child,
                column: &child.meta.columns[foreign_key.column],
                key,
            },
        ));
    }
    found
}

/// The expansions a query string asks for (`expand=site,data_point.site`); `None` when none.
/// An unknown relation or a path deeper than [`MAX_DEPTH`] is 400 naming it.
pub fn parse(
    meta: &'static TableMeta,
    all: &[&'static TableOps],
    pairs: &[(String, String)],
) -> Result<Option<Expansions>, ApiError> {
    let Some(text) = list::joined_values(pairs, "expand") else {
        return Ok(None);
    };
    let mut root = Expansions::default();
    for path in text
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
    {
        let steps: Vec<&str> = path.split('.').collect();
        if steps.len() > MAX_DEPTH {
            return Err(ApiError::BadRequest(format!(
                "expand={path} goes {} relations deep; expansions go at most {MAX_DEPTH} deep.",
                steps.len()
            )));
        }
        let mut node = &mut root;
        let mut table = meta;
        for step in steps {
            let known = relations(table, all);
            let Some((_, relation)) = known.iter().find(|(name, _)| name == step) else {
                let names: Vec<&str> = known.iter().map(|(name, _)| name.as_str()).collect();
                return Err(ApiError::BadRequest(format!(
                    "Unknown relation \"{step}\" in expand={path}: the relations of {} are {}.",
                    table.verbose_name,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            };
            let position = match node
                .children
                .iter()
                .position(|(existing, _)| existing.field() == relation.field())
            {
                Some(position) => position,
                None => {
                    node.children
                        .push((relation.clone(), Expansions::default()));
                    node.children.len() - 1
                }
            };
            table = relation.rows_of().meta;
            node = &mut node.children[position].1;
        }
    }
    Ok((!root.children.is_empty()).then_some(root))
}

impl Expansions {
    /// A JSON array of rows with their relations expanded.
    pub fn apply_to_rows(
        &self,
        connection: &mut DbConnection,
        json: &str,
    ) -> Result<String, ApiError> {
        let mut rows: Vec<Value> = serde_json::from_str(json)
            .map_err(|error| ApiError::internal("reading served rows", error))?;
        self.apply(connection, &mut rows)?;
        serde_json::to_string(&rows).map_err(|error| ApiError::internal("row serialization", error))
    }

    /// One row (a JSON object) with its relations expanded.
    pub fn apply_to_row(
        &self,
        connection: &mut DbConnection,
        json: &str,
    ) -> Result<String, ApiError> {
        let row: Value = serde_json::from_str(json)
            .map_err(|error| ApiError::internal("reading a served row", error))?;
        let mut rows = vec![row];
        self.apply(connection, &mut rows)?;
        serde_json::to_string(&rows[0])
            .map_err(|error| ApiError::internal("row serialization", error))
    }

    fn apply(&self, connection: &mut DbConnection, rows: &mut [Value]) -> Result<(), ApiError> {
        for (relation, nested) in &self.children {
            match relation {
                Relation::Forward {
                    column,
                    key,
                    target,
                } => {
                    let keys = distinct_keys(rows, column.name);
                    if keys.is_empty() {
                        continue;
                    }
                    let mut filter = SqlFilter::all();
                    filter.begin_condition();
                    in_keys(&mut filter, key, &keys)?;
                    filter.mark_uncacheable();
                    let mut related = read_rows(connection, target, filter, keys.len())?;
                    // Keyed before the rows' own expansions may replace the key by an object.
                    let row_keys = values_of(&related, key.name);
                    nested.apply(connection, &mut related)?;
                    let by_key: HashMap<String, Value> = row_keys
                        .into_iter()
                        .zip(related)
                        .filter_map(|(row_key, row)| Some((row_key?, row)))
                        .collect();
                    for row in rows.iter_mut() {
                        if let Some(slot) = row.get_mut(column.name)
                            && let Some(found) = by_key.get(&slot.to_string())
                        {
                            *slot = found.clone();
                        }
                    }
                }
                Relation::Reverse {
                    name,
                    child,
                    column,
                    key,
                } => {
                    let keys = distinct_keys(rows, key.name);
                    let mut children: HashMap<String, Vec<Value>> = HashMap::new();
                    if !keys.is_empty() {
                        let filter = first_children(child.meta, column, &keys)?;
                        let limit = keys.len() * MAX_REVERSE_ROWS;
                        let mut found = read_rows(connection, child, filter, limit)?;
                        let parents = values_of(&found, column.name);
                        nested.apply(connection, &mut found)?;
                        for (parent, row) in parents.into_iter().zip(found) {
                            if let Some(parent) = parent {
                                children.entry(parent).or_default().push(row);
                            }
                        }
                    }
                    for row in rows.iter_mut() {
                        let list = row
                            .get(key.name)
                            .and_then(|parent| children.get(&parent.to_string()))
                            .cloned()
                            .unwrap_or_default();
                        if let Value::Object(fields) = row {
                            fields.insert(name.clone(), Value::Array(list));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Each row's value of `field` as JSON text (the key rows are matched by).
fn values_of(rows: &[Value], field: &str) -> Vec<Option<String>> {
    rows.iter()
        .map(|row| row.get(field).map(Value::to_string))
        .collect()
}

/// The distinct non-null values of `field` in `rows`.
fn distinct_keys(rows: &[Value], field: &str) -> Vec<Value> {
    let mut seen = HashSet::new();
    rows.iter()
        .filter_map(|row| row.get(field))
        .filter(|key| !key.is_null() && seen.insert(key.to_string()))
        .cloned()
        .collect()
}

/// `column IN (keys...)`, each key bound as `column` takes it.
fn in_keys(filter: &mut SqlFilter, column: &ColumnMeta, keys: &[Value]) -> Result<(), ApiError> {
    filter.identifier(column.name).sql(" IN (");
    for (position, key) in keys.iter().enumerate() {
        if position > 0 {
            filter.sql(", ");
        }
        let text = match key {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let value = convert::parse_column_text(column, &text)
            .map_err(|error| ApiError::internal("expanding a relation", error))?;
        filter.bind_for(column, value);
    }
    filter.sql(")");
    Ok(())
}

/// The child rows of the given parents, at most [`MAX_REVERSE_ROWS`] per parent (the first
/// by primary key): one statement, ranking each parent's children with a window function.
fn first_children(
    child: &'static TableMeta,
    column: &'static ColumnMeta,
    keys: &[Value],
) -> Result<SqlFilter, ApiError> {
    let primary_key: Vec<&'static str> = child.primary_key_columns().map(|key| key.name).collect();
    let mut filter = SqlFilter::all();
    filter.begin_condition();
    // The parents' keys bind as the child's column takes them (a foreign key has its
    // referenced column's type).
    in_keys(&mut filter, column, keys)?;
    filter.begin_condition().sql("(");
    push_list(&mut filter, &primary_key);
    filter.sql(") IN (SELECT ");
    push_list(&mut filter, &primary_key);
    filter.sql(" FROM (SELECT ");
    push_list(&mut filter, &primary_key);
    filter
        .sql(", ROW_NUMBER() OVER (PARTITION BY ")
        .identifier(column.name)
        .sql(" ORDER BY ");
    push_list(&mut filter, &primary_key);
    filter
        .sql(") AS expand_rank FROM ")
        .identifier(child.name)
        .sql(" WHERE ");
    in_keys(&mut filter, column, keys)?;
    filter
        .owned_sql(format!(
            ") AS ranked WHERE expand_rank <= {MAX_REVERSE_ROWS})"
        ))
        .mark_uncacheable();
    Ok(filter)
}

fn push_list(filter: &mut SqlFilter, names: &[&'static str]) {
    for (position, name) in names.iter().enumerate() {
        if position > 0 {
            filter.sql(", ");
        }
        filter.identifier(name);
    }
}

/// Up to `limit` rows of `table` matching `filter`, by primary key, as JSON values.
fn read_rows(
    connection: &mut DbConnection,
    table: &TableOps,
    filter: SqlFilter,
    limit: usize,
) -> Result<Vec<Value>, ApiError> {
    let json = table.rows_json(connection, filter, limit)?;
    serde_json::from_str(&json).map_err(|error| ApiError::internal("reading related rows", error))
}
