//! `?expand=`: foreign keys replaced by the rows they reference (drf-flex-fields'
//! convention: `"site_id": 1` becomes `"site_id": {"id": 1, ...}`), and reverse relations
//! added as lists (`reading_set`: the rows that reference this one, at most
//! [`MAX_REVERSE_ROWS`] each), nested with dots (`data_point.site`) to a depth of
//! [`MAX_DEPTH`]. One query per relation and level for a whole page (per [`KEYS_PER_STATEMENT`]
//! keys), never one per row, inside the read's own unit of work on the project's database.
//!
//! A read's cost is bounded by the rows it produces: the page's rows and every expanded row,
//! counted as often as the answer holds it (a row that many rows reference is written under
//! each). Beyond [`RowBudget`]'s bound the read answers 400 before the rows are copied, and no
//! statement fetches more than one row past what the bound still allows.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::connections::db::{BackendKind, DbConnection};
use crate::data::convert;
use crate::data::meta::{ColumnMeta, TableMeta};
use crate::data::sql::SqlFilter;
use crate::data::table_ops::TableOps;
use crate::http::error::ApiError;
use crate::http::list;
use tenantapi_schema::api_rules::MAX_REVERSE_ROWS;

/// How many relations deep an expansion may reach (`a.b.c`).
pub const MAX_DEPTH: usize = 3;

/// Keys bound in one statement at most. A reverse relation binds each key once on PostgreSQL
/// and twice on SQLite, so a statement stays far under both backends' bind limits
/// (PostgreSQL 65,535; SQLite 32,766 by default) whatever the page's filters add.
pub const KEYS_PER_STATEMENT: usize = 4096;

/// The rows one read may still produce and fetch: the page's and its expansions'.
#[derive(Debug)]
pub struct RowBudget {
    limit: usize,
    /// Rows read from the database so far (each once).
    fetched: usize,
}

impl RowBudget {
    pub fn new(limit: usize) -> RowBudget {
        RowBudget { limit, fetched: 0 }
    }

    /// The most rows the next statement may usefully read: one past what is still allowed,
    /// so that the statement itself tells when the bound is passed.
    fn next_read(&self, wanted: usize) -> usize {
        wanted.min(self.limit.saturating_sub(self.fetched).saturating_add(1))
    }

    fn fetched(&mut self, rows: usize) -> Result<(), ApiError> {
        self.fetched += rows;
        self.check(self.fetched)
    }

    /// `rows`: what the answer would hold.
    fn check(&self, rows: usize) -> Result<(), ApiError> {
        if rows <= self.limit {
            return Ok(());
        }
        Err(ApiError::TooManyRows { limit: self.limit })
    }
}

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
        let references: Vec<_> = child
            .meta
            .foreign_keys
            .iter()
            .filter(|foreign_key| foreign_key.references_table == meta.name)
            .collect();
        let Some(name) = tenantapi_schema::api_rules::reverse_relation_name(
            child.meta.name,
            references.len(),
            !child.meta.primary_key.is_empty(),
        ) else {
            continue;
        };
        let foreign_key = references[0];
        let Some(key) = meta.column(foreign_key.references_column) else {
            continue;
        };
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
    /// Expands `rows` in place, within `max_rows` rows in all (theirs included).
    pub(crate) fn expand(
        &self,
        connection: &mut DbConnection,
        rows: &mut [Value],
        max_rows: usize,
    ) -> Result<(), ApiError> {
        let mut budget = RowBudget::new(max_rows);
        budget.fetched(rows.len())?;
        self.apply(connection, rows, &mut budget)?;
        Ok(())
    }

    /// Expands `rows` in place; returns how many rows each now holds (itself included), which
    /// is what it costs each time the answer holds it.
    fn apply(
        &self,
        connection: &mut DbConnection,
        rows: &mut [Value],
        budget: &mut RowBudget,
    ) -> Result<Vec<usize>, ApiError> {
        let mut weights = vec![1usize; rows.len()];
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
                    let mut related = read_by_keys(connection, target, &keys, 1, budget, |keys| {
                        let mut filter = SqlFilter::all();
                        filter.begin_condition();
                        in_keys(&mut filter, key, keys)?;
                        Ok(filter)
                    })?;
                    // Keyed before the rows' own expansions may replace the key by an object.
                    let row_keys = values_of(&related, key.name);
                    let related_weights = nested.apply(connection, &mut related, budget)?;
                    let by_key: HashMap<String, (Value, usize)> = row_keys
                        .into_iter()
                        .zip(related.into_iter().zip(related_weights))
                        .filter_map(|(row_key, row)| Some((row_key?, row)))
                        .collect();
                    // Counted before copying: a row many rows reference is copied under each.
                    let matches: Vec<Option<&(Value, usize)>> = rows
                        .iter()
                        .map(|row| {
                            row.get(column.name)
                                .and_then(|slot| by_key.get(&slot.to_string()))
                        })
                        .collect();
                    for (weight, found) in weights.iter_mut().zip(&matches) {
                        *weight += found.map_or(0, |(_, weight)| *weight);
                    }
                    budget.check(weights.iter().sum())?;
                    for (row, found) in rows.iter_mut().zip(matches) {
                        if let (Some(slot), Some((found, _))) = (row.get_mut(column.name), found) {
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
                    let mut children: HashMap<String, (Vec<Value>, usize)> = HashMap::new();
                    if !keys.is_empty() {
                        let backend = connection.backend();
                        let mut found = read_by_keys(
                            connection,
                            child,
                            &keys,
                            MAX_REVERSE_ROWS,
                            budget,
                            |keys| first_children(backend, child.meta, column, keys),
                        )?;
                        let parents = values_of(&found, column.name);
                        let found_weights = nested.apply(connection, &mut found, budget)?;
                        for ((parent, row), weight) in
                            parents.into_iter().zip(found).zip(found_weights)
                        {
                            if let Some(parent) = parent {
                                let (list, total) = children.entry(parent).or_default();
                                list.push(row);
                                *total += weight;
                            }
                        }
                    }
                    // Each parent key's rows go to every row holding that key: counted before
                    // they are copied.
                    let parent_keys: Vec<Option<String>> = values_of(rows, key.name);
                    for (weight, parent) in weights.iter_mut().zip(&parent_keys) {
                        *weight += parent
                            .as_ref()
                            .and_then(|parent| children.get(parent))
                            .map_or(0, |(_, total)| *total);
                    }
                    budget.check(weights.iter().sum())?;
                    // A referenced key is unique, so each list usually goes to one row: moved
                    // to the last row holding its key, copied to any before.
                    let mut holders: HashMap<&str, usize> = HashMap::new();
                    for parent in parent_keys.iter().flatten() {
                        *holders.entry(parent.as_str()).or_default() += 1;
                    }
                    let mut lists: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
                    for parent in &parent_keys {
                        let Some(parent) = parent else {
                            lists.push(Vec::new());
                            continue;
                        };
                        let left = holders.get_mut(parent.as_str()).expect("counted above");
                        *left -= 1;
                        lists.push(if *left == 0 {
                            children
                                .remove(parent)
                                .map(|(list, _)| list)
                                .unwrap_or_default()
                        } else {
                            children
                                .get(parent)
                                .map(|(list, _)| list.clone())
                                .unwrap_or_default()
                        });
                    }
                    for (row, list) in rows.iter_mut().zip(lists) {
                        if let Value::Object(fields) = row {
                            fields.insert(name.clone(), Value::Array(list));
                        }
                    }
                }
            }
        }
        Ok(weights)
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
        bind_key(filter, column, key)?;
    }
    filter.sql(")");
    Ok(())
}

/// A served key value, bound as `column` takes it.
fn bind_key(filter: &mut SqlFilter, column: &ColumnMeta, key: &Value) -> Result<(), ApiError> {
    let text = match key {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let value = convert::parse_column_text(column, &text)
        .map_err(|error| ApiError::internal("expanding a relation", error))?;
    filter.bind_for(column, value);
    Ok(())
}

/// The child rows of the given parents, at most [`MAX_REVERSE_ROWS`] per parent (the first
/// by primary key), in one statement. On PostgreSQL, a database server other tenants share,
/// each parent's children are read through its index up to the bound (`LATERAL ... LIMIT`);
/// SQLite, one file per project, ranks the parents' children with a window function.
fn first_children(
    backend: BackendKind,
    child: &'static TableMeta,
    column: &'static ColumnMeta,
    keys: &[Value],
) -> Result<SqlFilter, ApiError> {
    let primary_key: Vec<&'static str> = child.primary_key_columns().map(|key| key.name).collect();
    let mut filter = SqlFilter::all();
    filter.begin_condition();
    if backend == BackendKind::Postgres {
        filter.sql("(");
        push_list(&mut filter, &primary_key);
        filter.sql(") IN (SELECT ");
        push_list(&mut filter, &primary_key);
        filter.sql(" FROM (VALUES ");
        for (position, key) in keys.iter().enumerate() {
            filter.sql(if position == 0 { "(" } else { ", (" });
            // The parents' keys bind as the child's column takes them (a foreign key has its
            // referenced column's type).
            bind_key(&mut filter, column, key)?;
            filter.sql(")");
        }
        filter.sql(") AS tenantapi_parent (tenantapi_key) CROSS JOIN LATERAL (SELECT ");
        push_list(&mut filter, &primary_key);
        filter.sql(" FROM ").identifier(child.name).sql(" WHERE ");
        filter
            .identifier(column.name)
            .sql(" = tenantapi_parent.tenantapi_key ORDER BY ");
        push_list(&mut filter, &primary_key);
        filter.owned_sql(format!(" LIMIT {MAX_REVERSE_ROWS}) AS tenantapi_children)"));
        filter.mark_uncacheable();
        return Ok(filter);
    }
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

/// The rows of `table` that `filter_for` selects for `keys`, at most `per_key` for each key,
/// read [`KEYS_PER_STATEMENT`] keys at a time, each statement reading at most one row past
/// what `budget` still allows.
fn read_by_keys(
    connection: &mut DbConnection,
    table: &TableOps,
    keys: &[Value],
    per_key: usize,
    budget: &mut RowBudget,
    filter_for: impl Fn(&[Value]) -> Result<SqlFilter, ApiError>,
) -> Result<Vec<Value>, ApiError> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let mut filter = filter_for(chunk)?;
        filter.mark_uncacheable();
        let limit = budget.next_read(chunk.len().saturating_mul(per_key));
        let found = read_rows(connection, table, filter, limit)?;
        budget.fetched(found.len())?;
        rows.extend(found);
    }
    Ok(rows)
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
