//! `?expand=`: foreign keys replaced by the rows they reference (drf-flex-fields'
//! convention: `"site_id": 1` becomes `"site_id": {"id": 1, ...}`), nested with dots
//! (`data_point.site`) to a depth of [`MAX_DEPTH`]. One query per relation and level for a
//! whole page, never one per row, inside the read's own unit of work on the project's database.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::convert;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::handlers::TableOps;
use crate::list;
use crate::meta::{ColumnMeta, TableMeta};
use crate::sql::SqlFilter;

/// How many relations deep an expansion may reach (`a.b.c`).
pub const MAX_DEPTH: usize = 3;

/// The relations to expand, as a tree: each with the expansions of the rows it brings.
#[derive(Clone, Default)]
pub struct Expansions {
    children: Vec<(Relation, Expansions)>,
}

#[derive(Clone, Copy)]
struct Relation {
    /// The foreign key column whose value is replaced.
    column: &'static ColumnMeta,
    /// The referenced column, in `target`.
    key: &'static ColumnMeta,
    target: &'static TableOps,
}

/// The relations of `meta`: the name each is expanded by, and where it leads.
fn relations(
    meta: &TableMeta,
    tables: &dyn Fn(&str) -> Option<&'static TableOps>,
) -> Vec<(&'static str, Relation)> {
    meta.foreign_keys
        .iter()
        .filter_map(|foreign_key| {
            let column = &meta.columns[foreign_key.column];
            let target = tables(foreign_key.references_table)?;
            let key = target.meta.column(foreign_key.references_column)?;
            Some((
                tenantapi_schema::names::relation_name(column.name),
                Relation {
                    column,
                    key,
                    target,
                },
            ))
        })
        .collect()
}

/// The expansions a query string asks for (`expand=site,data_point.site`); `None` when none.
/// An unknown relation or a path deeper than [`MAX_DEPTH`] is 400 naming it.
pub fn parse(
    meta: &'static TableMeta,
    tables: &dyn Fn(&str) -> Option<&'static TableOps>,
    query_string: &str,
) -> Result<Option<Expansions>, ApiError> {
    let pairs = list::query_pairs(query_string)?;
    let Some(text) = list::last_value(&pairs, "expand") else {
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
            let known = relations(table, tables);
            let Some((_, relation)) = known.iter().find(|(name, _)| *name == step) else {
                let names: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
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
                .position(|(existing, _)| existing.column.name == relation.column.name)
            {
                Some(position) => position,
                None => {
                    node.children.push((*relation, Expansions::default()));
                    node.children.len() - 1
                }
            };
            table = relation.target.meta;
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
            let name = relation.column.name;
            // The distinct keys, as JSON text: the same on both sides, since both sides are
            // served JSON.
            let mut seen = HashSet::new();
            let keys: Vec<&Value> = rows
                .iter()
                .filter_map(|row| row.get(name))
                .filter(|key| !key.is_null() && seen.insert(key.to_string()))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let mut filter = SqlFilter::all();
            filter
                .begin_condition()
                .identifier(relation.key.name)
                .sql(" IN (");
            for (position, key) in keys.iter().enumerate() {
                if position > 0 {
                    filter.sql(", ");
                }
                let text = match key {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let value = convert::parse_column_text(relation.key, &text)
                    .map_err(|error| ApiError::internal("expanding a relation", error))?;
                filter.bind_for(relation.key, value);
            }
            // One statement per number of keys: not worth caching.
            filter.sql(")").mark_uncacheable();
            let found = relation.target.rows_json(connection, filter, keys.len())?;
            let mut related: Vec<Value> = serde_json::from_str(&found)
                .map_err(|error| ApiError::internal("reading related rows", error))?;
            nested.apply(connection, &mut related)?;
            let by_key: HashMap<String, Value> = related
                .into_iter()
                .filter_map(|row| Some((row.get(relation.key.name)?.to_string(), row)))
                .collect();
            for row in rows.iter_mut() {
                if let Some(slot) = row.get_mut(name)
                    && let Some(found) = by_key.get(&slot.to_string())
                {
                    *slot = found.clone();
                }
            }
        }
        Ok(())
    }
}
