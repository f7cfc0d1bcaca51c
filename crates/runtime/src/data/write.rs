//! Inserts, updates and deletes built at run time from a table's metadata and validated
//! values: identifiers from the metadata, every value a bind. The row a write produced is read
//! back through the table's typed `Resource::load`.

use diesel::RunQueryDsl as _;
use serde_json::{Map, Value};

use crate::connections::db::DbConnection;
use crate::data::convert;
use crate::data::meta::{ColumnKind, ColumnMeta, TableMeta};
use crate::data::resource::Resource;
use crate::data::sql::{SqlFilter, SqlOrder, SqlStatement, SqlValue};
use crate::data::write_error::WriteError;

pub mod checked;
pub mod guarded;

/// A table the API may write: every table but the read-only ones (views).
///
/// The writes are built at run time from the table's metadata and the validated values (the
/// functions below), not from the generated insert and patch models: typed diesel inserts,
/// updates and deletes over the two-backend connection cost about 0.7 s of compile time per
/// table, which decides whether a schema of hundreds of tables is workable.
pub trait WritableResource: Resource + Sized {
    /// Inserts the validated body (a JSON object keyed by column name) and returns the row.
    fn insert(
        connection: &mut DbConnection,
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self::Row, WriteError> {
        insert::<Self>(connection, &body)
    }

    /// Sets the columns present in the validated body on the row matching `filter` (a
    /// primary key filter) and returns the updated row, or `None` if there is none.
    fn update(
        connection: &mut DbConnection,
        filter: SqlFilter,
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<Self::Row>, WriteError> {
        update::<Self>(connection, filter, &body)
    }

    fn delete(connection: &mut DbConnection, filter: SqlFilter) -> diesel::QueryResult<usize> {
        delete::<Self>(connection, filter)
    }
}

/// The validated body's columns with typed values (`None`: SQL NULL), in column order.
fn typed_values(
    meta: &'static TableMeta,
    body: &Map<String, Value>,
) -> Result<Vec<(&'static ColumnMeta, Option<SqlValue>)>, WriteError> {
    let mut values = Vec::with_capacity(body.len());
    for column in meta.columns {
        let Some(value) = body.get(column.name) else {
            continue;
        };
        if value.is_null() {
            values.push((column, None));
            continue;
        }
        let typed = convert::parse_column_json(column, value).map_err(|message| {
            WriteError::Lost(format!(
                "validated value of {} rejected: {message}",
                column.name
            ))
        })?;
        values.push((column, Some(typed)));
    }
    if let Some(unknown) = body.keys().find(|name| meta.column(name).is_none()) {
        return Err(WriteError::Lost(format!(
            "validated body names an unknown column {unknown}"
        )));
    }
    Ok(values)
}

fn push_value(statement: &mut SqlStatement, column: &ColumnMeta, value: &Option<SqlValue>) {
    match value {
        Some(value) => statement.bind_for(column, value.clone()),
        None => statement.sql("NULL"),
    };
}

/// A written row's column and value, as [`typed_values`] gives them.
type ColumnValue = (&'static ColumnMeta, Option<SqlValue>);

/// `a, b`: the names of the columns `values` set.
fn push_column_names(statement: &mut SqlStatement, values: &[ColumnValue]) {
    for (position, (column, _)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(column.name);
    }
}

/// `$1, NULL`: the values, in the order of [`push_column_names`].
fn push_values(statement: &mut SqlStatement, values: &[ColumnValue]) {
    for (position, (column, value)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        push_value(statement, column, value);
    }
}

/// `a = $1, b = NULL`: an `UPDATE`'s `SET` list.
fn push_assignments(statement: &mut SqlStatement, values: &[ColumnValue]) {
    for (position, (column, value)) in values.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(column.name).sql(" = ");
        push_value(statement, column, value);
    }
}

/// A filter on the primary key from `values` (every key column must be among them).
fn key_filter(
    meta: &'static TableMeta,
    values: &[(&'static ColumnMeta, Option<SqlValue>)],
) -> Result<SqlFilter, WriteError> {
    let mut filter = SqlFilter::all();
    for key in meta.primary_key_columns() {
        let value = values
            .iter()
            .find(|(column, _)| column.name == key.name)
            .and_then(|(_, value)| value.clone())
            .ok_or_else(|| WriteError::Lost(format!("no value for key column {}", key.name)))?;
        filter.equals(key, value);
    }
    Ok(filter)
}

/// The row whose `values` columns (a unique set) equal the given values.
fn unique_filter(
    values: &[(&'static ColumnMeta, Option<SqlValue>)],
) -> Result<SqlFilter, WriteError> {
    let mut filter = SqlFilter::all();
    for (column, value) in values {
        let value = value
            .clone()
            .ok_or_else(|| WriteError::Lost(format!("no value for column {}", column.name)))?;
        filter.equals(column, value);
    }
    Ok(filter)
}

/// `INSERT` the body's columns (the others take their defaults) and return the new row.
pub fn insert<R: Resource>(
    connection: &mut DbConnection,
    body: &Map<String, Value>,
) -> Result<R::Row, WriteError> {
    write_row::<R>(connection, body, &[])
}

/// `INSERT ... ON CONFLICT (conflict) DO UPDATE`: the row whose `conflict` columns (a unique
/// constraint's, all in the body) equal the body's gets the body's other columns, or a new row
/// is inserted; the row as it is afterwards. Key columns are never changed by the update.
pub fn upsert<R: Resource>(
    connection: &mut DbConnection,
    body: &Map<String, Value>,
    conflict: &[&'static ColumnMeta],
) -> Result<R::Row, WriteError> {
    write_row::<R>(connection, body, conflict)
}

fn write_row<R: Resource>(
    connection: &mut DbConnection,
    body: &Map<String, Value>,
    conflict: &[&'static ColumnMeta],
) -> Result<R::Row, WriteError> {
    let meta = R::META;
    let mut values = typed_values(meta, body)?;
    let mut statement = SqlStatement::new();
    statement.sql("INSERT INTO ").identifier(meta.name);
    if values.is_empty() {
        statement.sql(" DEFAULT VALUES");
    } else {
        statement.sql(" (");
        push_column_names(&mut statement, &values);
        statement.sql(") VALUES (");
        push_values(&mut statement, &values);
        statement.sql(")");
        if !conflict.is_empty() {
            let set: Vec<_> = values.iter().map(|(column, _)| column.name).collect();
            push_on_conflict(&mut statement, meta, conflict, &set);
        }
    }
    // A key the database generates is learned from RETURNING; others are in the body.
    let generated_key = meta
        .primary_key_columns()
        .find(|key| key.generated && !values.iter().any(|(column, _)| column.name == key.name));
    match generated_key {
        Some(key) => {
            statement
                .sql(" RETURNING CAST(")
                .identifier(key.name)
                .sql(" AS BIGINT)");
            let generated: i64 = statement.returning_integer().get_result(connection)?;
            values.push((key, Some(integer_value(key, generated))));
        }
        None => {
            statement.execute(connection)?;
        }
    }
    // After an upsert that updated, the body's key (if it gave one) is not the row's: the
    // conflict columns, unique and all in the body, find it.
    let filter = if conflict.is_empty() {
        key_filter(meta, &values)?
    } else {
        let by_conflict: Vec<_> = values
            .iter()
            .filter(|(column, _)| conflict.iter().any(|c| c.name == column.name))
            .cloned()
            .collect();
        unique_filter(&by_conflict)?
    };
    R::load_one(connection, filter)?
        .ok_or_else(|| WriteError::Lost(format!("written row of {} not found", meta.name)))
}

/// PostgreSQL accepts at most this many bind parameters in one statement.
const MAX_BINDS_PER_STATEMENT: usize = 65_535;

/// Inserts every body with one multi-row `INSERT ... RETURNING` key per batch and reads the
/// rows back with one `SELECT ... WHERE key IN (...)`: two statements for a list instead of two
/// per row, the rows in the bodies' order. A body without a column gets its `DEFAULT`.
///
/// With `conflict` (an upsert's unique columns) each batch is `INSERT ... ON CONFLICT DO
/// UPDATE`, as [`upsert`] writes one row; only when every body sets the same columns (a body
/// leaving a column out must keep the row's value, which one `SET` list for all cannot do). Two
/// bodies of a batch meeting the same row make PostgreSQL refuse the statement; the caller's
/// row-by-row path then applies them in order.
///
/// `None` (nothing written) unless the database is PostgreSQL (a SQLite statement costs no
/// round trip, so the row-by-row path is as fast there) and the key is one integer column the
/// database generates (what the rows are read back and ordered by); the caller then inserts
/// row by row. A database error fails the whole call and says nothing of which body caused
/// it: the caller runs it inside a savepoint and finds the item row by row.
pub fn insert_many<R: Resource>(
    connection: &mut DbConnection,
    bodies: &[Map<String, Value>],
    conflict: &[&'static ColumnMeta],
) -> Result<Option<Vec<R::Row>>, WriteError> {
    let meta = R::META;
    let Some(key) = one_statement_key(meta) else {
        return Ok(None);
    };
    if !matches!(connection, DbConnection::Pg(_)) {
        return Ok(None);
    }
    let rows = bodies
        .iter()
        .map(|body| typed_values(meta, body))
        .collect::<Result<Vec<_>, _>>()?;
    let same_columns = |row: &Vec<(&'static ColumnMeta, Option<SqlValue>)>| {
        row.len() == rows[0].len()
            && row
                .iter()
                .zip(&rows[0])
                .all(|((a, _), (b, _))| a.name == b.name)
    };
    if !conflict.is_empty() && !rows.iter().all(same_columns) {
        return Ok(None);
    }
    // Every column some body sets, in the table's order; the key at least, so that a list of
    // empty bodies is still `VALUES (DEFAULT), ...`.
    let columns: Vec<&'static ColumnMeta> = meta
        .columns
        .iter()
        .filter(|column| {
            column.name == key.name
                || rows
                    .iter()
                    .any(|row| row.iter().any(|(set, _)| set.name == column.name))
        })
        .collect();
    let per_statement = (MAX_BINDS_PER_STATEMENT / columns.len()).max(1);
    let mut inserted_keys: Vec<i64> = Vec::with_capacity(rows.len());
    for batch in rows.chunks(per_statement) {
        let mut statement = SqlStatement::new();
        statement
            .sql("INSERT INTO ")
            .identifier(meta.name)
            .sql(" (");
        for (position, column) in columns.iter().enumerate() {
            if position > 0 {
                statement.sql(", ");
            }
            statement.identifier(column.name);
        }
        statement.sql(") VALUES ");
        for (number, row) in batch.iter().enumerate() {
            statement.sql(if number > 0 { ", (" } else { "(" });
            for (position, column) in columns.iter().enumerate() {
                if position > 0 {
                    statement.sql(", ");
                }
                match row.iter().find(|(set, _)| set.name == column.name) {
                    Some((column, value)) => push_value(&mut statement, column, value),
                    None => {
                        statement.sql("DEFAULT");
                    }
                }
            }
            statement.sql(")");
        }
        if !conflict.is_empty() {
            let set: Vec<_> = columns.iter().map(|column| column.name).collect();
            push_on_conflict(&mut statement, meta, conflict, &set);
        }
        // PostgreSQL returns an INSERT's rows in the order of its VALUES (what Django's
        // bulk_create relies on too); the read-back below checks every key came back.
        statement
            .sql(" RETURNING CAST(")
            .identifier(key.name)
            .sql(" AS BIGINT)");
        let batch_keys: Vec<i64> = statement.returning_integer().load(connection)?;
        if batch_keys.len() != batch.len() {
            return Err(WriteError::Lost(format!(
                "{} rows inserted into {}, {} keys returned",
                batch.len(),
                meta.name,
                batch_keys.len()
            )));
        }
        inserted_keys.extend(batch_keys);
    }
    let mut by_key = std::collections::HashMap::with_capacity(inserted_keys.len());
    for batch in inserted_keys.chunks(MAX_BINDS_PER_STATEMENT) {
        let mut filter = SqlFilter::all();
        filter.begin_condition().identifier(key.name).sql(" IN (");
        for (position, value) in batch.iter().enumerate() {
            if position > 0 {
                filter.sql(", ");
            }
            filter.bind_for(key, integer_value(key, *value));
        }
        filter.sql(")").mark_uncacheable();
        let order = SqlOrder::by_primary_key(meta).window(batch.len() as u64, 0);
        for row in R::load(connection, filter, order)? {
            let json = serde_json::to_value(&row)?;
            let Some(found) = json.get(key.name).and_then(Value::as_i64) else {
                return Err(WriteError::Lost(format!(
                    "a row of {} read back without its key {}",
                    meta.name, key.name
                )));
            };
            by_key.insert(found, row);
        }
    }
    inserted_keys
        .iter()
        .map(|inserted| {
            by_key.remove(inserted).ok_or_else(|| {
                WriteError::Lost(format!(
                    "inserted row {inserted} of {} not found",
                    meta.name
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `ON CONFLICT (conflict) DO UPDATE SET` each of the `set` columns but the key and the conflict
/// columns to the value the insert proposed (a no-op update when none is left, so that
/// `RETURNING` still yields the row).
fn push_on_conflict(
    statement: &mut SqlStatement,
    meta: &'static TableMeta,
    conflict: &[&'static ColumnMeta],
    set: &[&'static str],
) {
    statement.sql(" ON CONFLICT (");
    for (position, column) in conflict.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(column.name);
    }
    statement.sql(") DO UPDATE SET ");
    let keys: Vec<&str> = meta.primary_key_columns().map(|key| key.name).collect();
    let mut updated: Vec<&'static str> = set
        .iter()
        .copied()
        .filter(|name| !keys.contains(name) && !conflict.iter().any(|c| c.name == *name))
        .collect();
    if updated.is_empty() {
        updated.push(conflict[0].name);
    }
    for (position, name) in updated.into_iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement
            .identifier(name)
            .sql(" = excluded.")
            .identifier(name);
    }
}

/// The key a list of `meta`'s rows is written and read back by in one statement: a single
/// integer column the database generates. `None`: [`insert_many`] writes nothing for this
/// table, and a caller need not prepare for it (a savepoint is a round trip each way).
pub fn one_statement_key(meta: &'static TableMeta) -> Option<&'static ColumnMeta> {
    let mut keys = meta.primary_key_columns();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return None;
    };
    let integer_key = matches!(
        key.kind,
        ColumnKind::SmallInt | ColumnKind::Integer | ColumnKind::BigInt
    );
    (key.generated && integer_key).then_some(key)
}

/// An integer key's value as its column's type.
fn integer_value(key: &ColumnMeta, value: i64) -> SqlValue {
    match key.kind {
        ColumnKind::SmallInt => SqlValue::SmallInt(value as i16),
        ColumnKind::Integer => SqlValue::Integer(value as i32),
        _ => SqlValue::BigInt(value),
    }
}

/// `UPDATE` the body's columns on the row matching `filter`; `None` if there is no such row.
pub fn update<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    body: &Map<String, Value>,
) -> Result<Option<R::Row>, WriteError> {
    let meta = R::META;
    let values = typed_values(meta, body)?;
    let changes_key = values.iter().any(|(column, _)| {
        meta.primary_key_columns()
            .any(|key| key.name == column.name)
    });
    // When the key itself changes, the row is found again by its new key.
    let new_filter = if changes_key {
        let Some(current) = R::load_one(connection, filter.clone())? else {
            return Ok(None);
        };
        let current = serde_json::to_value(current)?;
        let mut key_values = Vec::new();
        for key in meta.primary_key_columns() {
            let value = match values.iter().find(|(column, _)| column.name == key.name) {
                Some((_, value)) => value.clone(),
                None => Some(convert::parse_column_json(key, &current[key.name]).map_err(
                    |message| {
                        WriteError::Lost(format!("current key {} unreadable: {message}", key.name))
                    },
                )?),
            };
            key_values.push((key, value));
        }
        Some(key_filter(meta, &key_values)?)
    } else {
        None
    };
    if values.is_empty() {
        return Ok(R::load_one(connection, filter)?);
    }
    let mut statement = SqlStatement::new();
    statement.sql("UPDATE ").identifier(meta.name).sql(" SET ");
    push_assignments(&mut statement, &values);
    statement.sql(" WHERE ").condition(&filter);
    if statement.execute(connection)? == 0 {
        return Ok(None);
    }
    Ok(R::load_one(connection, new_filter.unwrap_or(filter))?)
}

/// `DELETE` the row matching `filter`; the number of rows deleted.
pub fn delete<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
) -> diesel::QueryResult<usize> {
    let mut statement = SqlStatement::new();
    statement
        .sql("DELETE FROM ")
        .identifier(R::META.name)
        .sql(" WHERE ")
        .condition(&filter);
    statement.execute(connection)
}
