//! Single-row writes on PostgreSQL as one statement that checks the structure version itself
//! and answers the written row, in a transaction of its own: three round trips (`BEGIN`, the
//! statement, `COMMIT`) instead of five (`BEGIN`, the version read, the write, the row read
//! back, `COMMIT`). The transaction is kept so that a connection found lost says where: on
//! `BEGIN` nothing was applied and the write is retried, on the statement it was rolled back,
//! on `COMMIT` its outcome is unknown (`watch::LostAt`); alone, the statement would commit by
//! itself, and a connection lost during it would leave every such write in doubt.
//!
//! Each statement is `WITH guard AS (<version read> FOR SHARE SKIP LOCKED) <write> ... WHERE
//! <the guard holds> RETURNING <the row>`. The guard holds when
//! the version table has exactly one row, this statement could lock it `FOR SHARE`, and it
//! records the served version. The lock lasts until the write commits, as in
//! `version::write_transaction`: a migration that changes the version (in the
//! same transaction as its DDL) waits for the writes that hold it, and a write that starts
//! after the migration committed reads the new version and writes nothing.
//!
//! A write that meets a migration holding the version row does not wait for it (`SKIP
//! LOCKED`): the guard fails and the write is refused (503, try again). Waiting would
//! deadlock with a migration that changes the version first and then alters the written
//! table, since the statement already holds the table's lock when it reads the version. The
//! transaction path reads the version before touching any table, and waits.
//!
//! No row answered means the guard failed or (for an update or delete) no row matched; the
//! caller tells which by reading the version.
//!
//! The statements are kept prepared on each connection (PostgreSQL then parses and plans each
//! once: a guarded write in its transaction ran at 14,900 a second prepared and 6,600
//! parsed every time, pgbench, 32 clients). A statement's text depends on its table, its kind
//! and which columns it sets (and to NULL), which a client chooses: so only the first
//! [`PREPARED_SHAPES_PER_TABLE`] texts of each table are kept, and the others are parsed
//! every time, so that no client can fill the connections' memory with prepared statements. Writes that need more than one statement keep
//! the transaction: `If-Match` (the row's ETag is checked before the write), a key that
//! changes, an upsert, SQLite.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex};

use serde_json::{Map, Value};

use super::{ColumnValue, push_assignments, push_column_names, push_values, typed_values};
use crate::connections::db::DbConnection;
use crate::connections::version::StructureVersion;
use crate::data::resource::Resource;
use crate::data::sql::{SqlFilter, SqlStatement, SqlValue, positional};
use crate::data::write_error::WriteError;

/// How many statement texts of one table are kept prepared on each connection.
pub const PREPARED_SHAPES_PER_TABLE: usize = 16;

/// The texts (by hash) of each table's guarded statements that are kept prepared.
static PREPARED_SHAPES: LazyLock<Mutex<HashMap<&'static str, Vec<u64>>>> =
    LazyLock::new(Default::default);

/// Keeps `statement` prepared if its shape (the table, the kind of write, the columns it sets
/// and which of them to NULL: what decides its text) is one of the table's first
/// [`PREPARED_SHAPES_PER_TABLE`].
fn keep_prepared_if_few(
    statement: &mut SqlStatement,
    table: &'static str,
    kind: &str,
    values: &[ColumnValue],
) {
    let mut hasher = std::hash::DefaultHasher::new();
    kind.hash(&mut hasher);
    for (column, value) in values {
        column.name.hash(&mut hasher);
        value.is_none().hash(&mut hasher);
    }
    let shape = hasher.finish();
    let mut shapes = PREPARED_SHAPES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = shapes.entry(table).or_default();
    if !known.contains(&shape) {
        if known.len() >= PREPARED_SHAPES_PER_TABLE {
            return;
        }
        known.push(shape);
    }
    statement.keep_prepared();
}

/// `WITH guard AS (<version read> FOR SHARE SKIP LOCKED) `.
fn open(statement: &mut SqlStatement, version: &StructureVersion) {
    statement
        .sql("WITH guard AS (")
        .sql(version.select_sql)
        .sql(" FOR SHARE SKIP LOCKED) ");
}

/// The condition under which the write happens: one version row, recording `version`.
fn guard_holds(statement: &mut SqlStatement, version: &StructureVersion) {
    statement
        .sql("(SELECT count(*) = 1 AND bool_and(version = ")
        .bind(SqlValue::Text(version.expected.to_string()))
        .sql(") FROM guard)");
}

/// `INSERT` the body's columns (at least one) and answer the new row; `None` when the guard
/// did not hold (nothing was written).
pub fn insert<R: Resource>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    body: &Map<String, Value>,
) -> Result<Option<R::Row>, WriteError> {
    let meta = R::META;
    let values = typed_values(meta, body)?;
    let mut statement = SqlStatement::new();
    open(&mut statement, version);
    statement
        .sql("INSERT INTO ")
        .identifier(meta.name)
        .sql(" (");
    push_column_names(&mut statement, &values);
    statement.sql(") SELECT ");
    push_values(&mut statement, &values);
    statement.sql(" WHERE ");
    guard_holds(&mut statement, version);
    statement.sql(" RETURNING ");
    positional::push_select_list(&mut statement, meta);
    keep_prepared_if_few(&mut statement, meta.name, "insert", &values);
    Ok(positional::load_returned::<R::Row>(connection, statement)?.pop())
}

/// `UPDATE` the body's columns (at least one, no key column) of the row `filter` finds and
/// answer it; `None` when no row matched or the guard did not hold.
pub fn update<R: Resource>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    filter: &SqlFilter,
    body: &Map<String, Value>,
) -> Result<Option<R::Row>, WriteError> {
    let meta = R::META;
    let values = typed_values(meta, body)?;
    let mut statement = SqlStatement::new();
    open(&mut statement, version);
    statement.sql("UPDATE ").identifier(meta.name).sql(" SET ");
    push_assignments(&mut statement, &values);
    statement.sql(" WHERE ").condition(filter).sql(" AND ");
    guard_holds(&mut statement, version);
    statement.sql(" RETURNING ");
    positional::push_select_list(&mut statement, meta);
    if filter.may_be_kept_prepared() {
        keep_prepared_if_few(&mut statement, meta.name, "update", &values);
    }
    Ok(positional::load_returned::<R::Row>(connection, statement)?.pop())
}

/// `DELETE` the row `filter` finds; the number of rows deleted (0: none matched, or the guard
/// did not hold).
pub fn delete<R: Resource>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    filter: &SqlFilter,
) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl as _;
    let mut statement = SqlStatement::new();
    open(&mut statement, version);
    statement
        .sql("DELETE FROM ")
        .identifier(R::META.name)
        .sql(" WHERE ")
        .condition(filter)
        .sql(" AND ");
    guard_holds(&mut statement, version);
    if filter.may_be_kept_prepared() {
        keep_prepared_if_few(&mut statement, R::META.name, "delete", &[]);
    }
    statement.execute(connection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::meta::{ColumnKind, ColumnMeta};

    static COLUMNS: [ColumnMeta; 20] = {
        let mut columns = [ColumnMeta::plain("c", ColumnKind::Integer); 20];
        let names = [
            "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10", "c11",
            "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19",
        ];
        let mut index = 0;
        while index < 20 {
            columns[index].name = names[index];
            index += 1;
        }
        columns
    };

    fn kept(table: &'static str, column: usize, null: bool) -> bool {
        let mut statement = SqlStatement::new();
        let value = (!null).then_some(SqlValue::Integer(1));
        keep_prepared_if_few(
            &mut statement,
            table,
            "insert",
            &[(&COLUMNS[column], value)],
        );
        let mut prepared = SqlStatement::new();
        prepared.keep_prepared();
        statement == prepared
    }

    /// A client choosing which columns to set (and to NULL) chooses the statement's text: only
    /// a table's first shapes are kept prepared, a known one always, and tables count apart.
    #[test]
    fn only_a_tables_first_statement_shapes_are_kept_prepared() {
        for column in 0..PREPARED_SHAPES_PER_TABLE {
            assert!(kept("shapes_a", column, false), "{column}");
        }
        assert!(!kept("shapes_a", 16, false));
        assert!(
            !kept("shapes_a", 0, true),
            "the same column set to NULL is another text"
        );
        assert!(kept("shapes_a", 3, false), "a known shape stays kept");
        assert!(
            kept("shapes_b", 16, false),
            "another table has shapes of its own"
        );
    }
}
