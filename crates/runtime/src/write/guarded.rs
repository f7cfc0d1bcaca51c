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
//! caller tells which by reading the version. Writes that need more than one statement keep
//! the transaction: `If-Match` (the row's ETag is checked before the write), a key that
//! changes, an upsert, SQLite.

use serde_json::{Map, Value};

use super::{push_value, typed_values};
use crate::db::DbConnection;
use crate::error::WriteError;
use crate::resource::Resource;
use crate::sql::{SqlFilter, SqlStatement, SqlValue, positional};
use crate::version::StructureVersion;

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
    for (position, (column, _)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(column.name);
    }
    statement.sql(") SELECT ");
    for (position, (column, value)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        push_value(&mut statement, column, value);
    }
    statement.sql(" WHERE ");
    guard_holds(&mut statement, version);
    statement.sql(" RETURNING ");
    positional::push_select_list(&mut statement, meta);
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
    for (position, (column, value)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(column.name).sql(" = ");
        push_value(&mut statement, column, value);
    }
    statement.sql(" WHERE ").condition(filter).sql(" AND ");
    guard_holds(&mut statement, version);
    statement.sql(" RETURNING ");
    positional::push_select_list(&mut statement, meta);
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
    statement.execute(connection)
}
