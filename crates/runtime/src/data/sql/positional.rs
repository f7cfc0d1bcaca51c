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

use super::{SqlFilter, SqlOrder, SqlStatement, TotalCount};
use crate::connections::db::{DbConnection, MultiBackend};
use crate::data::meta::TableMeta;

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

/// Reads a row of a table read by position, column after column in `META`'s order.
///
/// [`Columns::read_next`] answers a value whatever happens, the type's default when the column
/// cannot be read, and keeps the first error for [`Columns::finish`]: a generated `build` is
/// one struct expression of `read_next` calls, without a `?` per column. (With one, each of a wide
/// row's columns had its own way out dropping the columns read before it: a 400-column table
/// took 100 s of release build for its `build` alone.)
pub struct Columns<'r, R> {
    row: &'r R,
    meta: &'static TableMeta,
    position: usize,
    error: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl<'r, 'a, R: NamedRow<'a, MultiBackend>> Columns<'r, R> {
    pub fn new(row: &'r R, meta: &'static TableMeta) -> Self {
        Columns {
            row,
            meta,
            position: 0,
            error: None,
        }
    }

    /// The next column's value, read as `ST` into `T`.
    #[inline(never)]
    pub fn read_next<ST, T>(&mut self) -> T
    where
        T: diesel::deserialize::FromSql<ST, MultiBackend> + Default,
    {
        let position = self.position;
        self.position += 1;
        if self.error.is_some() {
            return T::default();
        }
        let read = match diesel::row::Row::get(self.row, position) {
            Some(value) => T::from_nullable_sql(value.value()).map_err(|error| {
                if error.is::<diesel::result::UnexpectedNullError>() {
                    error
                } else {
                    Box::new(PositionalFieldError {
                        column: self.meta.columns[position].name,
                        error,
                    }) as _
                }
            }),
            None => Err(Box::new(diesel::result::UnexpectedEndOfRow) as _),
        };
        read.unwrap_or_else(|error| {
            self.error = Some(error);
            T::default()
        })
    }

    /// The row read, or the first column that could not be.
    pub fn finish<T>(self, row: T) -> deserialize::Result<T> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(row),
        }
    }
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
    PositionalSelect::new(meta, filter, order, None).load(connection)
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
    let rows: Vec<WithTotal<R>> =
        PositionalSelect::new(meta, filter, order, total).load(connection)?;
    Ok(rows.into_iter().map(|row| (row.row, row.total)).collect())
}

/// `SELECT columns [, total] FROM table WHERE filter ORDER BY order`.
struct PositionalSelect {
    meta: &'static TableMeta,
    /// [`push_select_list`]'s columns, kept prepared: the text is the table's alone (the filter
    /// and the order say for themselves when theirs varies).
    columns: SqlStatement,
    filter: SqlFilter,
    order: SqlOrder,
    total: Option<TotalCount>,
}

impl PositionalSelect {
    fn new(
        meta: &'static TableMeta,
        filter: SqlFilter,
        order: SqlOrder,
        total: Option<TotalCount>,
    ) -> PositionalSelect {
        let mut columns = SqlStatement::new();
        columns.keep_prepared();
        push_select_list(&mut columns, meta);
        PositionalSelect {
            meta,
            columns,
            filter,
            order,
            total,
        }
    }
}

/// Appends `meta`'s columns as a select (or `RETURNING`) list, in order, a column of a type
/// the description cannot express as its text form: what a row's positional read expects.
pub fn push_select_list(statement: &mut SqlStatement, meta: &'static TableMeta) {
    for (position, column) in meta.columns.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        // A type the description cannot express is read as the database's text form.
        if column.database_type.is_some() {
            statement
                .sql("CAST(")
                .identifier(column.name)
                .sql(" AS TEXT)");
        } else {
            statement.identifier(column.name);
        }
    }
}

/// The rows a statement ending in `RETURNING` [`push_select_list`] answers.
pub fn load_returned<R>(
    connection: &mut DbConnection,
    statement: SqlStatement,
) -> QueryResult<Vec<R>>
where
    R: QueryableByName<MultiBackend> + 'static,
{
    Returning(statement).load(connection)
}

/// A statement whose rows are read by name or position.
pub(crate) struct Returning(pub(crate) SqlStatement);

impl QueryFragment<MultiBackend> for Returning {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }
}

impl Query for Returning {
    type SqlType = Untyped;
}

impl QueryId for Returning {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for Returning {}

impl QueryFragment<MultiBackend> for PositionalSelect {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        pass.push_sql("SELECT ");
        self.columns.walk_ast(pass.reborrow())?;
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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection as _;
    use diesel::sql_types::Nullable;

    use super::*;
    use crate::data::meta::{ColumnKind, ColumnMeta};
    use crate::data::values::sql_types::{PortableInteger, PortableText};

    static COLUMNS: [ColumnMeta; 3] = [
        ColumnMeta::plain("id", ColumnKind::Integer),
        ColumnMeta::plain("label", ColumnKind::Text),
        ColumnMeta {
            nullable: true,
            ..ColumnMeta::plain("amount", ColumnKind::Integer)
        },
    ];
    static META: TableMeta = TableMeta {
        primary_key: &[0],
        ..TableMeta::plain("wide", &COLUMNS)
    };

    /// What generated code writes for a table read by position.
    #[derive(Debug, PartialEq)]
    struct Row {
        id: i32,
        label: String,
        amount: Option<i32>,
    }

    impl QueryableByName<MultiBackend> for Row {
        fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> deserialize::Result<Self> {
            let mut columns = Columns::new(row, &META);
            let read = Row {
                id: columns.read_next::<PortableInteger, _>(),
                label: columns.read_next::<PortableText, _>(),
                amount: columns.read_next::<Nullable<PortableInteger>, _>(),
            };
            columns.finish(read)
        }
    }

    fn database() -> DbConnection {
        let mut connection = DbConnection::open(":memory:").unwrap();
        connection
            .batch_execute(
                "CREATE TABLE wide (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount INTEGER);
                 INSERT INTO wide VALUES (1, 'one', NULL), (2, 'two', 20), (3, 'three', 30);",
            )
            .unwrap();
        connection
    }

    #[test]
    fn rows_are_read_by_position_with_the_filter_order_window_and_total() {
        let mut connection = database();
        let mut filter = SqlFilter::all();
        filter
            .begin_condition()
            .identifier("id")
            .sql(" > ")
            .bind(crate::data::sql::SqlValue::Integer(1));
        let order = SqlOrder::new(vec![("id", true)]).window(1, 0);
        let rows: Vec<(Row, i64)> =
            load_counted(&mut connection, &META, filter.clone(), order).unwrap();
        let expected = Row {
            id: 3,
            label: "three".into(),
            amount: Some(30),
        };
        assert_eq!(rows, [(expected, 2)]);
        assert_eq!(count(&mut connection, &META, filter).unwrap(), 2);
        let all: Vec<Row> = load(
            &mut connection,
            &META,
            SqlFilter::all(),
            SqlOrder::new(vec![("id", false)]),
        )
        .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].amount, None);
    }

    /// A value the column cannot hold names its column, after the columns before it were
    /// read: the log then names the table, the row's key, the column and the value.
    #[test]
    fn an_unreadable_value_names_its_column_and_row() {
        let mut connection = database();
        connection
            .batch_execute("UPDATE wide SET amount = 'lots' WHERE id = 2")
            .unwrap();
        let error = load::<Row>(
            &mut connection,
            &META,
            SqlFilter::all(),
            SqlOrder::new(vec![("id", false)]),
        )
        .unwrap_err();
        let explained = crate::data::stored::explain_read_error(&mut connection, &META, error);
        assert_eq!(
            explained.to_string(),
            "unreadable value in table \"wide\", row with key [2], column \"amount\": text \
             'lots' is not an integer (32 bits)"
        );
    }
}
