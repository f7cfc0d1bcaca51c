//! One table's operations as plain function pointers: the typed reads generated code provides,
//! serialized straight to JSON, and the generic writes. The handlers and expansions take these
//! instead of a type parameter, so their code is compiled once for all tables.

use serde_json::{Map, Value};

use crate::connections::db::DbConnection;
use crate::connections::version::StructureVersion;
use crate::data::fixtures;
use crate::data::meta::{ColumnMeta, TableMeta};
use crate::data::resource::Resource;
use crate::data::sql::{SqlFilter, SqlOrder};
use crate::data::write::guarded;
use crate::data::write::{self, WritableResource};
use crate::data::write_error::WriteError;

/// One table's operations as plain function pointers. The handlers take these instead of a
/// type parameter, so they are compiled once for all tables; per table only the small
/// functions below are instantiated. Generated code declares one `OPS` per table.
pub struct TableOps {
    pub meta: &'static TableMeta,
    pub(crate) count: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<i64>,
    /// A window of rows, serialized straight from the typed read model.
    pub(crate) page_json: PageFn,
    /// A page as a JSON array with the filter's total count (`None`: the page is empty), in
    /// one statement.
    pub(crate) counted_page_json: CountedPageFn,
    /// The row matching a primary key filter as a JSON object, if any.
    pub(crate) row_json: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<Option<String>>,
    pub(crate) writes: Option<WriteOps>,
    /// Every row, by primary key, as the API shows it (fixture dumps).
    pub(crate) read_all: fn(&mut DbConnection) -> diesel::QueryResult<Vec<Value>>,
    /// A window of rows written as export lines, straight from the typed read model.
    pub(crate) export_batch: ExportBatchFn,
}

/// Appends a window's rows to the text as export lines; how many rows it held, and the last
/// one as the API shows it (the next window starts after it).
pub(crate) type ExportBatchFn = fn(
    &mut DbConnection,
    SqlFilter,
    SqlOrder,
    &crate::data::export_rows::ExportShape,
    &mut String,
) -> diesel::QueryResult<(usize, Option<Value>)>;

pub(crate) type PageFn =
    fn(&mut DbConnection, SqlFilter, SqlOrder, PageRead) -> diesel::QueryResult<PageRows>;

/// What to keep of a window of rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRead {
    /// Rows to keep (the window may hold one more, to tell that another page follows).
    pub(crate) keep: usize,
    /// The window was read in the opposite order: turn the kept rows around.
    pub(crate) reverse: bool,
    /// Return the first and last kept rows as JSON objects too (cursor pages need them).
    pub(crate) ends: bool,
}

impl PageRead {
    pub(crate) fn keep(keep: usize) -> PageRead {
        PageRead {
            keep,
            reverse: false,
            ends: false,
        }
    }
}

/// A page's rows.
pub(crate) struct PageRows {
    /// How many rows the window held.
    pub(crate) loaded: usize,
    /// The kept rows, as a JSON array.
    pub(crate) json: String,
    /// The first and the last kept row as JSON objects (cursor positions), when asked for and
    /// there are rows.
    pub(crate) ends: Option<(Value, Value)>,
}

pub(crate) type CountedPageFn =
    fn(&mut DbConnection, SqlFilter, SqlOrder) -> diesel::QueryResult<(Option<i64>, String)>;

/// Sets a validated body on the row matching a filter; the row after, if there was one.
pub(crate) type UpdateFn =
    fn(&mut DbConnection, SqlFilter, Map<String, Value>) -> Result<Option<Value>, WriteError>;

/// Inserts a validated body, or updates the row its conflict columns find.
pub(crate) type UpsertFn =
    fn(&mut DbConnection, Map<String, Value>, &[&'static ColumnMeta]) -> Result<Value, WriteError>;

/// Inserts (or upserts, with conflict columns) validated bodies with one statement per batch,
/// where the backend and key allow it.
pub(crate) type InsertManyFn = fn(
    &mut DbConnection,
    &[Map<String, Value>],
    &[&'static ColumnMeta],
) -> Result<Option<Vec<Value>>, WriteError>;

/// A single-statement write on PostgreSQL (`write::guarded`): the row written, or `None` when
/// nothing was (the guard did not hold, or no row matched).
pub(crate) type GuardedInsertFn = fn(
    &mut DbConnection,
    &StructureVersion,
    &Map<String, Value>,
) -> Result<Option<Value>, WriteError>;
pub(crate) type GuardedUpdateFn = fn(
    &mut DbConnection,
    &StructureVersion,
    &SqlFilter,
    &Map<String, Value>,
) -> Result<Option<Value>, WriteError>;
pub(crate) type GuardedDeleteFn =
    fn(&mut DbConnection, &StructureVersion, &SqlFilter) -> diesel::QueryResult<usize>;

pub(crate) struct WriteOps {
    pub(crate) insert: fn(&mut DbConnection, Map<String, Value>) -> Result<Value, WriteError>,
    pub(crate) insert_guarded: GuardedInsertFn,
    pub(crate) update_guarded: GuardedUpdateFn,
    pub(crate) delete_guarded: GuardedDeleteFn,
    pub(crate) insert_many: InsertManyFn,
    pub(crate) upsert: UpsertFn,
    pub(crate) update: UpdateFn,
    pub(crate) delete: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<usize>,
}

impl TableOps {
    /// Up to `limit` rows matching `filter`, by primary key, as a JSON array (expansions).
    pub(crate) fn rows_json(
        &self,
        connection: &mut DbConnection,
        filter: SqlFilter,
        limit: usize,
    ) -> diesel::QueryResult<String> {
        let order = SqlOrder::by_primary_key(self.meta).window(limit as u64, 0);
        Ok((self.page_json)(connection, filter, order, PageRead::keep(limit))?.json)
    }

    /// GET routes only.
    pub const fn read_only<R: Resource>() -> TableOps {
        TableOps {
            meta: R::META,
            count: R::count,
            page_json: page_json::<R>,
            counted_page_json: counted_page_json::<R>,
            row_json: row_json::<R>,
            writes: None,
            read_all: fixtures::read_all_rows::<R>,
            export_batch: export_batch::<R>,
        }
    }

    /// GET, POST, PUT, PATCH and DELETE routes.
    pub const fn writable<R: WritableResource>() -> TableOps {
        TableOps {
            writes: Some(WriteOps {
                insert: insert_value::<R>,
                insert_guarded: insert_guarded_value::<R>,
                update_guarded: update_guarded_value::<R>,
                delete_guarded: guarded::delete::<R>,
                insert_many: insert_many_values::<R>,
                upsert: upsert_value::<R>,
                update: update_value::<R>,
                delete: R::delete,
            }),
            ..Self::read_only::<R>()
        }
    }
}

impl TableOps {
    pub(crate) fn writes(&self) -> &WriteOps {
        self.writes
            .as_ref()
            .expect("BUG: a write route registered for a read-only table")
    }
}

fn page_json<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: SqlOrder,
    read: PageRead,
) -> diesel::QueryResult<PageRows> {
    let serialization = |error| diesel::result::Error::SerializationError(Box::new(error));
    let mut rows =
        R::load(connection, filter, order).map_err(|error| explain(connection, R::META, error))?;
    let loaded = rows.len();
    rows.truncate(read.keep);
    if read.reverse {
        rows.reverse();
    }
    let ends = match (read.ends, rows.first(), rows.last()) {
        (true, Some(first), Some(last)) => Some((
            serde_json::to_value(first).map_err(serialization)?,
            serde_json::to_value(last).map_err(serialization)?,
        )),
        _ => None,
    };
    let json = serde_json::to_string(&rows).map_err(serialization)?;
    Ok(PageRows { loaded, json, ends })
}

fn export_batch<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: SqlOrder,
    shape: &crate::data::export_rows::ExportShape,
    out: &mut String,
) -> diesel::QueryResult<(usize, Option<Value>)> {
    let serialization = |error| diesel::result::Error::SerializationError(Box::new(error));
    let rows =
        R::load(connection, filter, order).map_err(|error| explain(connection, R::META, error))?;
    for row in &rows {
        shape.write_row(row, out).map_err(serialization)?;
    }
    let last = rows
        .last()
        .map(serde_json::to_value)
        .transpose()
        .map_err(serialization)?;
    Ok((rows.len(), last))
}

fn counted_page_json<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: SqlOrder,
) -> diesel::QueryResult<(Option<i64>, String)> {
    let rows = R::load_counted(connection, filter, order)
        .map_err(|error| explain(connection, R::META, error))?;
    let total = rows.first().map(|(_, total)| *total);
    let rows: Vec<&R::Row> = rows.iter().map(|(row, _)| row).collect();
    let json = serde_json::to_string(&rows)
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    Ok((total, json))
}

fn row_json<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
) -> diesel::QueryResult<Option<String>> {
    R::load_one(connection, filter)
        .map_err(|error| explain(connection, R::META, error))?
        .map(|row| serde_json::to_string(&row))
        .transpose()
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))
}

/// A written row as the API answers it: through its JSON text, as reads serialize rows. (Not
/// `serde_json::to_value`, which holds a real column's `f32` as the `f64` it widens to: 0.1
/// was answered as 0.10000000149011612.)
fn answered<T: serde::Serialize>(row: &T) -> serde_json::Result<Value> {
    serde_json::from_str(&serde_json::to_string(row)?)
}

fn insert_value<R: WritableResource>(
    connection: &mut DbConnection,
    body: Map<String, Value>,
) -> Result<Value, WriteError> {
    let row =
        R::insert(connection, body).map_err(|error| explain_write(connection, R::META, error))?;
    Ok(answered(&row)?)
}

fn insert_guarded_value<R: WritableResource>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    body: &Map<String, Value>,
) -> Result<Option<Value>, WriteError> {
    Ok(guarded::insert::<R>(connection, version, body)
        .map_err(|error| explain_write(connection, R::META, error))?
        .map(|row| answered(&row))
        .transpose()?)
}

fn update_guarded_value<R: WritableResource>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    filter: &SqlFilter,
    body: &Map<String, Value>,
) -> Result<Option<Value>, WriteError> {
    Ok(guarded::update::<R>(connection, version, filter, body)
        .map_err(|error| explain_write(connection, R::META, error))?
        .map(|row| answered(&row))
        .transpose()?)
}

fn insert_many_values<R: WritableResource>(
    connection: &mut DbConnection,
    bodies: &[Map<String, Value>],
    conflict: &[&'static ColumnMeta],
) -> Result<Option<Vec<Value>>, WriteError> {
    let Some(rows) = write::insert_many::<R>(connection, bodies, conflict)
        .map_err(|error| explain_write(connection, R::META, error))?
    else {
        return Ok(None);
    };
    Ok(Some(rows.iter().map(answered).collect::<Result<_, _>>()?))
}

fn upsert_value<R: WritableResource>(
    connection: &mut DbConnection,
    body: Map<String, Value>,
    conflict: &[&'static ColumnMeta],
) -> Result<Value, WriteError> {
    let row = write::upsert::<R>(connection, &body, conflict)
        .map_err(|error| explain_write(connection, R::META, error))?;
    Ok(answered(&row)?)
}

fn update_value<R: WritableResource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    body: Map<String, Value>,
) -> Result<Option<Value>, WriteError> {
    Ok(R::update(connection, filter, body)
        .map_err(|error| explain_write(connection, R::META, error))?
        .map(|row| answered(&row))
        .transpose()?)
}

/// A read's failure on a stored value the column's type cannot represent, told with the table,
/// the row's key, the column and the value (`stored::explain_read_error`).
fn explain(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    error: diesel::result::Error,
) -> diesel::result::Error {
    crate::data::stored::explain_read_error(connection, meta, error)
}

/// The same for the read-back of a written row.
fn explain_write(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    error: WriteError,
) -> WriteError {
    match error {
        WriteError::Database(error) => WriteError::Database(explain(connection, meta, error)),
        other => other,
    }
}
