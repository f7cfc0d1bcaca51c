//! Reads of tables wider than diesel's `table!` takes: one statement built from the table's
//! metadata, each row read column by column by position.
//!
//! A typed table's reads are `table.filter(..).order(..).select(Row::as_select())`; these are
//! the same statements (the same filter, order and window, the same columns in `META`'s order,
//! a type the description cannot express as its text form, the total as a correlated count),
//! spelled from `TableMeta` instead of a `table!`. Generated code reads each column with
//! [`field`], with the SQL and Rust types of a typed row, so both paths serve identical JSON.

use diesel::deserialize::{self, QueryableByName};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::{Field as _, NamedRow};
use diesel::sql_types::{self, Untyped};
use diesel::{QueryResult, RunQueryDsl as _};

use super::{SqlFilter, SqlOrder, TotalCount};
use crate::db::{DbConnection, MultiBackend};
use crate::meta::TableMeta;

/// A column's value that could not be read, named by its column: what diesel's
/// `DeserializeFieldError` is for typed reads, which other crates cannot construct.
#[derive(Debug)]
pub struct PositionalFieldError {
    pub column: &'static str,
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for PositionalFieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Error deserializing field '{}': {}",
            self.column, self.error
        )
    }
}

impl std::error::Error for PositionalFieldError {}

/// The value of `meta`'s column at `position`, read as `ST` into `T`.
pub fn field<'a, ST, T>(
    row: &impl NamedRow<'a, MultiBackend>,
    meta: &'static TableMeta,
    position: usize,
) -> deserialize::Result<T>
where
    T: diesel::deserialize::FromSql<ST, MultiBackend>,
{
    let value = diesel::row::Row::get(row, position).ok_or(diesel::result::UnexpectedEndOfRow)?;
    T::from_nullable_sql(value.value()).map_err(|error| {
        if error.is::<diesel::result::UnexpectedNullError>() {
            error
        } else {
            Box::new(PositionalFieldError {
                column: meta.columns[position].name,
                error,
            }) as _
        }
    })
}

/// The number of rows `filter` matches.
pub fn count(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    filter: SqlFilter,
) -> QueryResult<i64> {
    PositionalCount { meta, filter }.get_result(connection)
}

/// The rows `filter` matches, in `order` and within its window.
pub fn load<R>(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    filter: SqlFilter,
    order: SqlOrder,
) -> QueryResult<Vec<R>>
where
    R: QueryableByName<MultiBackend> + 'static,
{
    PositionalSelect {
        meta,
        filter,
        order,
        total: None,
    }
    .load(connection)
}

/// Like [`load`], each row with the number of rows `filter` matches in all (one statement).
pub fn load_counted<R>(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    filter: SqlFilter,
    order: SqlOrder,
) -> QueryResult<Vec<(R, i64)>>
where
    R: QueryableByName<MultiBackend> + 'static,
{
    let total = Some(TotalCount::of(meta.name, filter.clone()));
    let rows: Vec<WithTotal<R>> = PositionalSelect {
        meta,
        filter,
        order,
        total,
    }
    .load(connection)?;
    Ok(rows.into_iter().map(|row| (row.row, row.total)).collect())
}

/// `SELECT columns [, total] FROM table WHERE filter ORDER BY order`.
struct PositionalSelect {
    meta: &'static TableMeta,
    filter: SqlFilter,
    order: SqlOrder,
    total: Option<TotalCount>,
}

impl QueryFragment<MultiBackend> for PositionalSelect {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        pass.push_sql("SELECT ");
        for (position, column) in self.meta.columns.iter().enumerate() {
            if position > 0 {
                pass.push_sql(", ");
            }
            if column.database_type.is_some() {
                pass.push_sql("CAST(");
                pass.push_identifier(column.name)?;
                pass.push_sql(" AS TEXT)");
            } else {
                pass.push_identifier(column.name)?;
            }
        }
        if let Some(total) = &self.total {
            pass.push_sql(", ");
            total.walk_ast(pass.reborrow())?;
        }
        pass.push_sql(" FROM ");
        pass.push_identifier(self.meta.name)?;
        pass.push_sql(" WHERE ");
        self.filter.walk_ast(pass.reborrow())?;
        pass.push_sql(" ORDER BY ");
        self.order.walk_ast(pass.reborrow())
    }
}

impl Query for PositionalSelect {
    type SqlType = Untyped;
}

impl QueryId for PositionalSelect {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for PositionalSelect {}

/// `SELECT COUNT(*) FROM table WHERE filter`.
struct PositionalCount {
    meta: &'static TableMeta,
    filter: SqlFilter,
}

impl QueryFragment<MultiBackend> for PositionalCount {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        pass.push_sql("SELECT COUNT(*) FROM ");
        pass.push_identifier(self.meta.name)?;
        pass.push_sql(" WHERE ");
        self.filter.walk_ast(pass.reborrow())
    }
}

impl Query for PositionalCount {
    type SqlType = sql_types::BigInt;
}

impl QueryId for PositionalCount {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for PositionalCount {}

/// A row followed by the total: the row's columns first, the count last.
struct WithTotal<R> {
    row: R,
    total: i64,
}

impl<R: QueryableByName<MultiBackend>> QueryableByName<MultiBackend> for WithTotal<R> {
    fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> deserialize::Result<Self> {
        let last = row.field_count().saturating_sub(1);
        Ok(WithTotal {
            row: R::build(row)?,
            total: row.get_value::<sql_types::BigInt, i64, _>(last)?,
        })
    }
}
