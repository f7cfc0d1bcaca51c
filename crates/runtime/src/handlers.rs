//! The generic CRUD handlers every generated table registers, with DRF's HTTP conventions.

use std::collections::HashMap;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use crate::body::{self, WriteMode};
use crate::conditional;
use crate::constraint::{WriteKind, explain_write_error};
use crate::cursor::{Cursor, CursorKey};
use crate::db::BackendKind;
use crate::db::DbConnection;
use crate::error::{ApiError, FieldErrors, WriteError};
use crate::expand;
use crate::guard::ProjectConnection;
use crate::list::{self, CountMode, ListRequest, PageNumber, PageSettings, Paging};
use crate::meta::{ColumnMeta, TableMeta};
use crate::metadata;
use crate::pool::Access;
use crate::resource::Resource;
use crate::selection;
use crate::sql::{SqlFilter, SqlOrder, SqlStatement};
use crate::urls;
use crate::version::{GuardedWriteError, StructureVersion, write_transaction};
use crate::write::WritableResource;

/// Rows a bulk create may carry unless configured otherwise.
pub const DEFAULT_MAX_BULK_ITEMS: usize = 1000;

/// Limits from the server's configuration, registered once as `web::Data<ApiSettings>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSettings {
    pub pages: PageSettings,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Signs `?cursor=` positions.
    pub cursor_key: CursorKey,
    /// Rows one bulk create (a JSON list) may carry; more is 400.
    pub max_bulk_items: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            pages: PageSettings::default(),
            max_body_bytes: 1024 * 1024,
            max_bulk_items: DEFAULT_MAX_BULK_ITEMS,
            cursor_key: CursorKey::random(),
        }
    }
}

/// One table's operations as plain function pointers. The handlers take these instead of a
/// type parameter, so they are compiled once for all tables; per table only the small
/// functions below are instantiated. Generated code declares one `OPS` per table.
pub struct TableOps {
    pub meta: &'static TableMeta,
    count: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<i64>,
    /// A window of rows, serialized straight from the typed read model.
    page_json: PageFn,
    /// A page as a JSON array with the filter's total count (`None`: the page is empty), in
    /// one statement.
    counted_page_json: CountedPageFn,
    /// The row matching a primary key filter as a JSON object, if any.
    row_json: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<Option<String>>,
    writes: Option<WriteOps>,
}

type PageFn = fn(&mut DbConnection, SqlFilter, SqlOrder, PageRead) -> diesel::QueryResult<PageRows>;

/// What to keep of a window of rows.
#[derive(Debug, Clone, Copy)]
struct PageRead {
    /// Rows to keep (the window may hold one more, to tell that another page follows).
    keep: usize,
    /// The window was read in the opposite order: turn the kept rows around.
    reverse: bool,
    /// Return the first and last kept rows as JSON objects too (cursor pages need them).
    ends: bool,
}

impl PageRead {
    fn keep(keep: usize) -> PageRead {
        PageRead {
            keep,
            reverse: false,
            ends: false,
        }
    }
}

/// A page's rows.
struct PageRows {
    /// How many rows the window held.
    loaded: usize,
    /// The kept rows, as a JSON array.
    json: String,
    /// The first and the last kept row as JSON objects (cursor positions), when asked for and
    /// there are rows.
    ends: Option<(Value, Value)>,
}

type CountedPageFn =
    fn(&mut DbConnection, SqlFilter, SqlOrder) -> diesel::QueryResult<(Option<i64>, String)>;

/// Sets a validated body on the row matching a filter; the row after, if there was one.
type UpdateFn =
    fn(&mut DbConnection, SqlFilter, Map<String, Value>) -> Result<Option<Value>, WriteError>;

/// Inserts a validated body, or updates the row its conflict columns find.
type UpsertFn =
    fn(&mut DbConnection, Map<String, Value>, &[&'static ColumnMeta]) -> Result<Value, WriteError>;

/// Inserts (or upserts, with conflict columns) validated bodies with one statement per batch,
/// where the backend and key allow it.
type InsertManyFn = fn(
    &mut DbConnection,
    &[Map<String, Value>],
    &[&'static ColumnMeta],
) -> Result<Option<Vec<Value>>, WriteError>;

struct WriteOps {
    insert: fn(&mut DbConnection, Map<String, Value>) -> Result<Value, WriteError>,
    insert_many: InsertManyFn,
    upsert: UpsertFn,
    update: UpdateFn,
    delete: fn(&mut DbConnection, SqlFilter) -> diesel::QueryResult<usize>,
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
        }
    }

    /// GET, POST, PUT, PATCH and DELETE routes.
    pub const fn writable<R: WritableResource>() -> TableOps {
        TableOps {
            meta: R::META,
            count: R::count,
            page_json: page_json::<R>,
            counted_page_json: counted_page_json::<R>,
            row_json: row_json::<R>,
            writes: Some(WriteOps {
                insert: insert_value::<R>,
                insert_many: insert_many_values::<R>,
                upsert: upsert_value::<R>,
                update: update_value::<R>,
                delete: R::delete,
            }),
        }
    }
}

fn page_json<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: SqlOrder,
    read: PageRead,
) -> diesel::QueryResult<PageRows> {
    let serialization = |error| diesel::result::Error::SerializationError(Box::new(error));
    let mut rows = R::load(connection, filter, order)?;
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

/// The last page when `count` rows match: read from the end (an index read backwards), not
/// past an offset of every row before it.
fn last_page(
    ops: &TableOps,
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: &SqlOrder,
    count: i64,
    page_size: u64,
) -> diesel::QueryResult<(u64, String)> {
    let count = count.max(0) as u64;
    let last = count.div_ceil(page_size).max(1);
    let on_last = count - (last - 1) * page_size;
    if on_last == 0 {
        return Ok((last, "[]".into()));
    }
    let read = PageRead {
        keep: on_last as usize,
        reverse: true,
        ends: false,
    };
    let rows = (ops.page_json)(
        connection,
        filter,
        order.clone().reversed().window(on_last, 0),
        read,
    )?;
    Ok((last, rows.json))
}

fn counted_page_json<R: Resource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    order: SqlOrder,
) -> diesel::QueryResult<(Option<i64>, String)> {
    let rows = R::load_counted(connection, filter, order)?;
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
    R::load_one(connection, filter)?
        .map(|row| serde_json::to_string(&row))
        .transpose()
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))
}

fn insert_value<R: WritableResource>(
    connection: &mut DbConnection,
    body: Map<String, Value>,
) -> Result<Value, WriteError> {
    Ok(serde_json::to_value(R::insert(connection, body)?)?)
}

fn insert_many_values<R: WritableResource>(
    connection: &mut DbConnection,
    bodies: &[Map<String, Value>],
    conflict: &[&'static ColumnMeta],
) -> Result<Option<Vec<Value>>, WriteError> {
    let Some(rows) = crate::write::insert_many::<R>(connection, bodies, conflict)? else {
        return Ok(None);
    };
    Ok(Some(
        rows.iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
    ))
}

fn upsert_value<R: WritableResource>(
    connection: &mut DbConnection,
    body: Map<String, Value>,
    conflict: &[&'static ColumnMeta],
) -> Result<Value, WriteError> {
    Ok(serde_json::to_value(crate::write::upsert::<R>(
        connection, &body, conflict,
    )?)?)
}

fn update_value<R: WritableResource>(
    connection: &mut DbConnection,
    filter: SqlFilter,
    body: Map<String, Value>,
) -> Result<Option<Value>, WriteError> {
    Ok(R::update(connection, filter, body)?
        .map(serde_json::to_value)
        .transpose()?)
}

impl TableOps {
    fn writes(&self) -> &WriteOps {
        self.writes
            .as_ref()
            .expect("BUG: a write route registered for a read-only table")
    }
}

/// Every table of one generated API by its URL segment, registered beside the routes.
pub struct TableIndex {
    by_name: HashMap<&'static str, &'static TableOps>,
    all: &'static [&'static TableOps],
}

/// The table named by the route's `{table}`, for a method it serves. It is the first
/// argument of every table handler, so that an unknown table answers 404 and a method the
/// table does not serve 405 before anyone is authenticated.
struct Table(&'static TableOps);

impl actix_web::FromRequest for Table {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Table, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(table_of(request).map(Table))
    }
}

fn table_of(request: &HttpRequest) -> Result<&'static TableOps, ApiError> {
    let index = request
        .app_data::<web::Data<TableIndex>>()
        .expect("BUG: register_tables registers the table index");
    let name = request.match_info().get("table").unwrap_or_default();
    let ops = *index.by_name.get(name).ok_or(ApiError::NotFound)?;
    let item = request.match_info().get("pk").is_some();
    if item && !ops.meta.has_primary_key() {
        return Err(ApiError::NotFound);
    }
    let allowed = allowed_methods(ops, item);
    if !allowed.contains(&request.method().as_str()) {
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allowed: allowed.to_vec(),
        });
    }
    Ok(ops)
}

/// The methods a table's collection (`item == false`) or item route serves.
fn allowed_methods(ops: &TableOps, item: bool) -> &'static [&'static str] {
    match (ops.writes.is_some(), item) {
        (true, false) => &["GET", "POST", "HEAD", "OPTIONS"],
        (true, true) => &["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        (false, _) => &["GET", "HEAD", "OPTIONS"],
    }
}

/// Registers two routes for all `tables`: `/{project}/{table}/` and `/{project}/{table}/{pk}/`.
/// The table is looked up by name in a hash map, not matched route by route: actix tries
/// routes one after the other, with a regular expression each, which cost 4 % of the server's
/// CPU with seven tables and would grow with every table of a large structure.
pub fn register_tables(config: &mut web::ServiceConfig, tables: &'static [&'static TableOps]) {
    let index = web::Data::new(TableIndex {
        by_name: tables.iter().map(|ops| (ops.meta.name, *ops)).collect(),
        all: tables,
    });
    let collection = web::resource("/{project}/{table}/")
        .app_data(index.clone())
        .route(web::get().to(
            |Table(ops): Table,
             request: HttpRequest,
             guard: ProjectConnection,
             settings: web::Data<ApiSettings>| { list(ops, request, guard, settings) },
        ))
        .route(web::head().to(
            |Table(ops): Table,
             request: HttpRequest,
             guard: ProjectConnection,
             settings: web::Data<ApiSettings>| { list(ops, request, guard, settings) },
        ))
        .route(web::method(Method::OPTIONS).to(
            |Table(ops): Table, request: HttpRequest, guard: ProjectConnection| {
                options_collection(ops, request, guard)
            },
        ))
        .route(web::post().to(
            |Table(ops): Table,
             request: HttpRequest,
             guard: ProjectConnection,
             payload: web::Payload,
             settings: web::Data<ApiSettings>| {
                create(ops, request, guard, payload, settings)
            },
        ))
        .default_service(web::to(|Table(_): Table| async {
            // Only reached by a method the table serves but no route above takes.
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
    let item = web::resource("/{project}/{table}/{pk}/")
        .app_data(index)
        .route(web::get().to(
            |Table(ops): Table, request: HttpRequest, guard: ProjectConnection| {
                retrieve(ops, request, guard)
            },
        ))
        .route(web::head().to(
            |Table(ops): Table, request: HttpRequest, guard: ProjectConnection| {
                retrieve(ops, request, guard)
            },
        ))
        .route(web::method(Method::OPTIONS).to(
            |Table(ops): Table, request: HttpRequest, guard: ProjectConnection| {
                options_item(ops, request, guard)
            },
        ))
        .route(web::put().to(
            |Table(ops): Table,
             request: HttpRequest,
             guard: ProjectConnection,
             payload: web::Payload,
             settings: web::Data<ApiSettings>| {
                write_existing(ops, request, guard, payload, settings, WriteMode::Replace)
            },
        ))
        .route(web::patch().to(
            |Table(ops): Table,
             request: HttpRequest,
             guard: ProjectConnection,
             payload: web::Payload,
             settings: web::Data<ApiSettings>| {
                write_existing(ops, request, guard, payload, settings, WriteMode::Partial)
            },
        ))
        .route(web::delete().to(
            |Table(ops): Table, request: HttpRequest, guard: ProjectConnection| {
                destroy(ops, request, guard)
            },
        ))
        .default_service(web::to(|Table(_): Table| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
    config.service(collection).service(item);
}

/// Any other method on the resource is a DRF-style 405 listing the allowed ones.
pub fn with_allowed(
    resource: actix_web::Resource,
    allowed: &'static [&'static str],
) -> actix_web::Resource {
    resource.default_service(web::to(move |request: HttpRequest| {
        method_not_allowed(request, allowed)
    }))
}

async fn method_not_allowed(
    request: HttpRequest,
    allowed: &'static [&'static str],
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        allowed: allowed.to_vec(),
    })
}

/// An `OPTIONS` answer with its `Allow` header, as DRF sends.
pub fn options_response(document: Value, allowed: &[&str]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ALLOW, allowed.join(", ")))
        .json(document)
}

/// OPTIONS `/{project}/{table}/`: DRF's metadata, with the `POST` fields for writers.
async fn options_collection(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let writable = ops.writes.is_some();
    let action = (writable && guard.may_write).then_some("POST");
    let allowed: &[&str] = if writable {
        &["GET", "POST", "HEAD", "OPTIONS"]
    } else {
        &["GET", "HEAD", "OPTIONS"]
    };
    let mut document = metadata::describe(ops.meta, metadata::Route::Collection, action);
    describe_expansions(&mut document, ops, &request);
    Ok(options_response(document, allowed))
}

/// Adds what `?expand=` accepts on this table to its OPTIONS metadata (`expandable`: relation
/// names; a key field then holds a row, a `_set` is added as a list).
fn describe_expansions(document: &mut Value, ops: &'static TableOps, request: &HttpRequest) {
    let names: Vec<Value> = expand::relations(ops.meta, all_tables(request))
        .into_iter()
        .map(|(name, _)| Value::String(name))
        .collect();
    if let Value::Object(fields) = document {
        fields.insert("expandable".into(), Value::Array(names));
    }
}

/// OPTIONS `/{project}/{table}/{pk}/`: DRF's metadata, with the `PUT` fields for writers when
/// the row exists (DRF leaves them out for a missing row).
async fn options_item(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let writable = ops.writes.is_some();
    let allowed: &[&str] = if writable {
        &["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    } else {
        &["GET", "HEAD", "OPTIONS"]
    };
    let mut action = None;
    if writable && guard.may_write {
        let exists = match key_filter(ops.meta, &request) {
            Ok(filter) => {
                guard
                    .run(
                        Access::Read,
                        (ops.meta.name, "retrieve"),
                        move |connection| Ok((ops.row_json)(connection, filter.clone())?.is_some()),
                    )
                    .await?
            }
            Err(_) => false,
        };
        action = exists.then_some("PUT");
    }
    let mut document = metadata::describe(ops.meta, metadata::Route::Item, action);
    describe_expansions(&mut document, ops, &request);
    Ok(options_response(document, allowed))
}

/// GET `/{project}/{table}/`: one page of rows, filtered and ordered.
async fn list(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let tables = table_ops(&request);
    let related = |name: &str| tables(name).map(|ops| ops.meta);
    let parameters = list::query_pairs(request.query_string())?;
    let list_request = list::parse_list_request_with_relations(
        ops.meta,
        guard.backend,
        &parameters,
        settings.pages,
        &related,
    )?;
    let selection = selection::parse(ops.meta, all_tables(&request), &parameters)?;
    let expansions = expand::parse(ops.meta, all_tables(&request), &parameters)?;
    let unless = conditional::if_none_match(&request)?;
    let body = match list_request.paging.clone() {
        Paging::Numbered { page, count } => {
            numbered_page(ops, &request, guard, list_request, page, count, expansions).await?
        }
        Paging::Cursor(cursor) => {
            cursor_page(
                ops,
                &request,
                guard,
                list_request,
                &cursor,
                &settings.cursor_key,
                expansions,
            )
            .await?
        }
    };
    let body = match selection {
        Some(selection) => selection.apply_to_page(&body)?,
        None => body,
    };
    // Weak: the page's bytes carry its links, which follow the URL the client used.
    respond_with_etag(conditional::weak_etag(body.as_bytes()), unless, body)
}

/// Every table's operations, for expansions (which look for references both ways).
fn all_tables(request: &HttpRequest) -> &'static [&'static TableOps] {
    request
        .app_data::<web::Data<TableIndex>>()
        .map_or(&[], |tables| tables.all)
}

/// Every table's operations by name, for filters across foreign keys.
fn table_ops(request: &HttpRequest) -> impl Fn(&str) -> Option<&'static TableOps> + '_ {
    let tables = request.app_data::<web::Data<TableIndex>>();
    move |name| tables.and_then(|tables| tables.by_name.get(name).copied())
}

/// 200 with the body and its ETag, or 304 when `If-None-Match` names the ETag.
fn respond_with_etag(
    etag: String,
    unless: Option<conditional::Condition>,
    body: String,
) -> Result<HttpResponse, ApiError> {
    if unless.is_some_and(|condition| condition.matches_weak(&etag)) {
        return Ok(conditional::not_modified(etag));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .content_type("application/json")
        .body(body))
}

/// `If-Match` on a write, inside its transaction: the row's current ETag must be one the
/// client named. On PostgreSQL the row is locked first (`FOR UPDATE`, until the write commits)
/// so that no other write lands between this check and the write; SQLite's write transaction
/// already excludes other writers. A missing row passes: the write answers 404 itself.
fn check_if_match(
    ops: &'static TableOps,
    connection: &mut DbConnection,
    filter: &SqlFilter,
    condition: Option<&conditional::Condition>,
) -> Result<(), WriteError> {
    let Some(condition) = condition else {
        return Ok(());
    };
    if let DbConnection::Pg(_) = connection {
        let mut lock = SqlStatement::new();
        lock.sql("SELECT 1 FROM ")
            .identifier(ops.meta.name)
            .sql(" WHERE ")
            .condition(filter)
            .sql(" FOR UPDATE");
        diesel::RunQueryDsl::execute(lock, connection)?;
    }
    match (ops.row_json)(connection, filter.clone())? {
        Some(current)
            if !condition.matches_strong(&conditional::strong_etag(current.as_bytes())) =>
        {
            Err(WriteError::Refused(ApiError::PreconditionFailed))
        }
        _ => Ok(()),
    }
}

/// A link as JSON: a string or `null`.
fn json_link(url: Option<String>) -> String {
    serde_json::to_string(&url).expect("strings serialize")
}

/// DRF's `PageNumberPagination` page, with the count `count` asks for.
async fn numbered_page(
    ops: &'static TableOps,
    request: &HttpRequest,
    guard: ProjectConnection,
    list_request: ListRequest,
    page: PageNumber,
    count_mode: CountMode,
    expansions: Option<expand::Expansions>,
) -> Result<String, ApiError> {
    let page_size = list_request.page_size;
    let backend = guard.backend;
    let (count, page, more, rows) = guard
        .run(
            Access::Read,
            (ops.meta.name, "list"),
            move |connection| -> Result<(Option<i64>, u64, bool, String), ApiError> {
                let (count, page, more, rows) =
                    read_numbered_page(ops, connection, &list_request, backend, page, count_mode)?;
                let rows = match &expansions {
                    Some(expansions) => expansions.apply_to_rows(connection, &rows)?,
                    None => rows,
                };
                Ok((count, page, more, rows))
            },
        )
        .await?;
    numbered_envelope(request, count, page, more, page_size, rows)
}

/// A numbered page's count, number, whether more rows follow, and rows.
fn read_numbered_page(
    ops: &'static TableOps,
    connection: &mut DbConnection,
    list_request: &ListRequest,
    backend: BackendKind,
    page: PageNumber,
    count_mode: CountMode,
) -> Result<(Option<i64>, u64, bool, String), ApiError> {
    let page_size = list_request.page_size;
    let wants_last = page == PageNumber::Last;
    let size = page_size as usize;
    let filter = list_request.filter.clone();
    let order = list_request.order.clone();
    let estimate = match count_mode {
        CountMode::Estimated => estimated_rows(connection, backend, ops.meta, &filter)?
            .filter(|estimate| *estimate >= list::EXACT_COUNT_BELOW),
        CountMode::Exact | CountMode::None => None,
    };
    let counted =
        count_mode == CountMode::Exact || estimate.is_none() && count_mode == CountMode::Estimated;
    let page = match (page, estimate) {
        (PageNumber::Number(page), _) => page,
        (PageNumber::Last, Some(estimate)) => (estimate.max(0) as u64).div_ceil(page_size).max(1),
        (PageNumber::Last, None) => {
            // The last page's number comes from the count.
            let count = (ops.count)(connection, filter.clone())?;
            let (last, rows) = last_page(ops, connection, filter, &order, count, page_size)?;
            return Ok((Some(count), last, false, rows));
        }
    };
    if let (true, Some(estimate)) = (wants_last, estimate) {
        // The final rows, as many as the estimate leaves for its last page.
        let (last, rows) = last_page(ops, connection, filter, &order, estimate, page_size)?;
        return Ok((Some(estimate), last, false, rows));
    }
    // A page beyond any table's reach (its offset would not even fit the SQL
    // integer) is past the end like any other.
    let offset = (page - 1)
        .checked_mul(page_size)
        .filter(|offset| i64::try_from(*offset).is_ok())
        .ok_or(ApiError::InvalidPage)?;
    if counted {
        // A numbered page and its count in one statement (one round trip).
        let order = order.window(page_size, offset);
        let (total, rows) = (ops.counted_page_json)(connection, filter, order)?;
        return match total {
            Some(count) => Ok((Some(count), page, false, rows)),
            // An empty first page is an empty list; any other is past the end.
            None if page == 1 => Ok((Some(0), 1, false, rows)),
            None => Err(ApiError::InvalidPage),
        };
    }
    // No count: one row past the page tells whether there is a next one.
    let window = order.clone().window(page_size + 1, offset);
    let rows = (ops.page_json)(connection, filter, window, PageRead::keep(size))?;
    let loaded = rows.loaded;
    if loaded == 0 && page > 1 {
        return Err(ApiError::InvalidPage);
    }
    let rows = rows.json;
    let more = loaded > size;
    // The estimate may be below what this page proves.
    let count = estimate
        .map(|estimate| estimate.max((offset + loaded.min(size) as u64 + u64::from(more)) as i64));
    Ok((count, page, more, rows))
}

/// The envelope of a numbered page around its rows.
fn numbered_envelope(
    request: &HttpRequest,
    count: Option<i64>,
    page: u64,
    more: bool,
    page_size: u64,
    rows: String,
) -> Result<String, ApiError> {
    let next = match count {
        Some(count) if !more => {
            let page_count = (count.max(0) as u64).div_ceil(page_size).max(1);
            page < page_count
        }
        _ => more,
    };
    let next = next.then(|| urls::page_url(request, Some(page + 1)));
    let previous =
        (page > 1).then(|| urls::page_url(request, if page == 2 { None } else { Some(page - 1) }));
    // The rows are already JSON; only the envelope is written here.
    let count = count.map_or_else(|| "null".to_string(), |count| count.to_string());
    Ok(format!(
        r#"{{"count":{count},"next":{},"previous":{},"results":{rows}}}"#,
        json_link(next),
        json_link(previous)
    ))
}

/// The planner's estimate of the rows `filter` matches (PostgreSQL); `None` on SQLite, which
/// keeps no estimate, or when the plan does not show one.
fn estimated_rows(
    connection: &mut DbConnection,
    backend: BackendKind,
    meta: &'static TableMeta,
    filter: &SqlFilter,
) -> Result<Option<i64>, ApiError> {
    if backend != BackendKind::Postgres {
        return Ok(None);
    }
    let mut statement = SqlStatement::new();
    statement
        .sql("EXPLAIN SELECT 1 FROM ")
        .identifier(meta.name)
        .sql(" WHERE ")
        .condition(filter);
    let plan: Vec<String> = diesel::RunQueryDsl::load(statement.returning_text(), connection)?;
    // The first line is the top node: "Seq Scan on t  (cost=0.00..1.10 rows=10 width=4)".
    Ok(plan.first().and_then(|line| {
        let rows = line.split("rows=").nth(1)?;
        rows.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }))
}

/// DRF's `CursorPagination` page: `next` and `previous` positions, no count.
async fn cursor_page(
    ops: &'static TableOps,
    request: &HttpRequest,
    guard: ProjectConnection,
    list_request: ListRequest,
    cursor_text: &str,
    key: &CursorKey,
    expansions: Option<expand::Expansions>,
) -> Result<String, ApiError> {
    let order = list_request.order.clone();
    let cursor = match cursor_text {
        "" => None,
        text => Some(Cursor::decode(text, key, &order)?),
    };
    let mut filter = list_request.filter.clone();
    if let Some(cursor) = &cursor {
        cursor.restrict(ops.meta, &order, &mut filter)?;
    }
    let reverse = cursor.as_ref().is_some_and(|cursor| cursor.reverse);
    let page_size = list_request.page_size;
    let size = page_size as usize;
    let read_order = if reverse {
        order.clone().reversed()
    } else {
        order.clone()
    };
    let rows = guard
        .run(Access::Read, (ops.meta.name, "list"), move |connection| {
            let window = read_order.clone().window(page_size + 1, 0);
            let read = PageRead {
                keep: size,
                reverse,
                ends: true,
            };
            let mut rows = (ops.page_json)(connection, filter.clone(), window, read)?;
            // Positions come from `ends`, read before expanding.
            if let Some(expansions) = &expansions {
                rows.json = expansions.apply_to_rows(connection, &rows.json)?;
            }
            Ok(rows)
        })
        .await?;
    let more = rows.loaded > size;
    // Without rows, both links start from the position asked for.
    let asked = cursor.as_ref().map(|cursor| cursor.position.clone());
    let (first, last) = match &rows.ends {
        Some((first, last)) => (
            Some(Cursor::position_of(&order, first)),
            Some(Cursor::position_of(&order, last)),
        ),
        None => (asked.clone(), asked),
    };
    // Reading forward: more rows mean a next page, and any cursor a previous one; backward the
    // other way round.
    let (has_next, has_previous) = if reverse {
        (true, more)
    } else {
        (more, cursor.is_some())
    };
    let link = |position: Option<Vec<Value>>, reverse: bool| {
        position.map(|position| {
            urls::cursor_url(request, &Cursor { reverse, position }.encode(key, &order))
        })
    };
    let next = if has_next { link(last, false) } else { None };
    let previous = if has_previous {
        link(first, true)
    } else {
        None
    };
    Ok(format!(
        r#"{{"next":{},"previous":{},"results":{}}}"#,
        json_link(next),
        json_link(previous),
        rows.json
    ))
}

/// The version this server serves, registered by the server from the generated crate.
fn structure_version(request: &HttpRequest) -> StructureVersion {
    *request
        .app_data::<web::Data<StructureVersion>>()
        .expect("BUG: web::Data<StructureVersion> was not registered")
        .get_ref()
}

/// POST `/{project}/{table}/`: 201 with the new row and its `Location`.
async fn create(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let conflict = crate::write::conflict_target(ops.meta, request.query_string())?;
    let body = body::read_json_body(&request, payload, settings.max_body_bytes).await?;
    if let Value::Array(items) = body {
        return create_many(
            ops,
            &request,
            guard,
            items,
            settings.max_bulk_items,
            conflict,
        )
        .await;
    }
    let canonical = body::validate(ops.meta, body, WriteMode::Create)?;
    if let Some(conflict) = &conflict {
        conflict_values_given(conflict, &canonical).map_err(ApiError::Validation)?;
    }
    let upserting = conflict.is_some();
    let version = structure_version(&request);
    let row = guard
        .run(
            Access::Write,
            (ops.meta.name, "create"),
            move |connection| -> Result<Value, ApiError> {
                match write_transaction(connection, &version, |connection| match &conflict {
                    Some(conflict) => {
                        (ops.writes().upsert)(connection, canonical.clone(), conflict)
                    }
                    None => (ops.writes().insert)(connection, canonical.clone()),
                }) {
                    Ok(row) => Ok(row),
                    Err(GuardedWriteError::Refused(error)) => Err(error),
                    Err(GuardedWriteError::Failed(error)) => Err(explain_write_error(
                        ops.meta,
                        connection,
                        &canonical,
                        WriteKind::Insert,
                        error,
                    )),
                }
            },
        )
        .await?;
    // An upsert may have updated: 200 with the row as it now is.
    let mut response = if upserting {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    if let Some(segment) = list::primary_key_segment(ops.meta, &row)
        && !upserting
    {
        response.insert_header((
            header::LOCATION,
            urls::absolute_path(&request, &format!("{}{segment}/", request.path())),
        ));
    }
    let body = serde_json::to_string(&row)
        .map_err(|error| ApiError::internal("row serialization", error))?;
    Ok(response
        .insert_header((header::ETAG, conditional::strong_etag(body.as_bytes())))
        .content_type("application/json")
        .body(body))
}

/// POST with a JSON list (DRF's `many=True`): every row in one transaction, or none. 201 with
/// the created rows in order; 400 with one error object per item, in order (`{}` for the
/// items that were fine), whether validation or the database refused an item.
async fn create_many(
    ops: &'static TableOps,
    request: &HttpRequest,
    guard: ProjectConnection,
    items: Vec<Value>,
    max_items: usize,
    conflict: Option<Vec<&'static ColumnMeta>>,
) -> Result<HttpResponse, ApiError> {
    if items.len() > max_items {
        return Err(ApiError::Validation(FieldErrors::single(
            "non_field_errors",
            format!("Ensure this field has no more than {max_items} elements."),
        )));
    }
    let count = items.len();
    let upserting = conflict.is_some();
    let mut rows = Vec::with_capacity(count);
    let mut errors: Vec<FieldErrors> = Vec::with_capacity(count);
    for item in items {
        let checked =
            body::validate(ops.meta, item, WriteMode::Create).and_then(
                |canonical| match &conflict {
                    Some(conflict) => conflict_values_given(conflict, &canonical)
                        .map(|()| canonical)
                        .map_err(ApiError::Validation),
                    None => Ok(canonical),
                },
            );
        match checked {
            Ok(canonical) => {
                rows.push(canonical);
                errors.push(FieldErrors::new());
            }
            Err(ApiError::Validation(item_errors)) => errors.push(item_errors),
            Err(other) => return Err(other),
        }
    }
    if rows.len() < count {
        return Err(ApiError::ValidationList(errors));
    }
    let version = structure_version(request);
    let created = guard
        .run(
            Access::Write,
            (ops.meta.name, "create_many"),
            move |connection| -> Result<Vec<Value>, ApiError> {
                let mut failed_item = 0;
                let outcome = write_transaction(connection, &version, |connection| {
                    // One statement for the whole list where the backend allows it, inside a
                    // savepoint: if the database refuses it, the row-by-row inserts below
                    // find which item it was.
                    if matches!(connection, DbConnection::Pg(_))
                        && !rows.is_empty()
                        && crate::write::one_statement_key(ops.meta).is_some()
                    {
                        let together = diesel::Connection::transaction(connection, |connection| {
                            (ops.writes().insert_many)(
                                connection,
                                &rows,
                                conflict.as_deref().unwrap_or_default(),
                            )
                        });
                        match together {
                            Ok(Some(created)) => return Ok(created),
                            Ok(None) => {}
                            Err(error) if error.an_item_may_explain() => tracing::debug!(
                                "{}: the list as one INSERT was refused ({error}); row by row to \
                                 name the item",
                                ops.meta.name
                            ),
                            Err(error) => return Err(error),
                        }
                    }
                    let mut created = Vec::with_capacity(rows.len());
                    for (index, row) in rows.iter().enumerate() {
                        failed_item = index;
                        created.push(match &conflict {
                            Some(conflict) => {
                                (ops.writes().upsert)(connection, row.clone(), conflict)?
                            }
                            None => (ops.writes().insert)(connection, row.clone())?,
                        });
                    }
                    Ok(created)
                });
                match outcome {
                    Ok(created) => Ok(created),
                    Err(GuardedWriteError::Refused(error)) => Err(error),
                    Err(GuardedWriteError::Failed(error)) => {
                        // The transaction is rolled back: nothing of the list was written.
                        match explain_write_error(
                            ops.meta,
                            connection,
                            &rows[failed_item],
                            WriteKind::Insert,
                            error,
                        ) {
                            ApiError::Validation(item_errors) => {
                                let mut errors: Vec<FieldErrors> =
                                    (0..rows.len()).map(|_| FieldErrors::new()).collect();
                                errors[failed_item] = item_errors;
                                Err(ApiError::ValidationList(errors))
                            }
                            other => Err(other),
                        }
                    }
                }
            },
        )
        .await?;
    if upserting {
        return Ok(HttpResponse::Ok().json(created));
    }
    Ok(HttpResponse::Created().json(created))
}

/// With `on_conflict`, every row must give the conflict columns, not null: they find the row.
fn conflict_values_given(
    conflict: &[&'static ColumnMeta],
    body: &Map<String, Value>,
) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    for column in conflict {
        if body.get(column.name).is_none_or(Value::is_null) {
            errors.add(column.name, "This field is required with on_conflict.");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn key_filter(meta: &'static TableMeta, request: &HttpRequest) -> Result<SqlFilter, ApiError> {
    // The raw segment, not `match_info()`: the router decodes `%2C`, and a comma inside a
    // value of a composite key must not become a separator.
    let segment = request
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    list::parse_primary_key(meta, segment)
}

/// The row matching `filter` as a JSON object, or 404.
fn fetch_one(
    ops: &'static TableOps,
    connection: &mut DbConnection,
    filter: SqlFilter,
) -> Result<String, ApiError> {
    (ops.row_json)(connection, filter)?.ok_or(ApiError::NotFound)
}

/// GET `/{project}/{table}/{pk}/`.
async fn retrieve(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter(ops.meta, &request)?;
    let parameters = list::query_pairs(request.query_string())?;
    let selection = selection::parse(ops.meta, all_tables(&request), &parameters)?;
    let expansions = expand::parse(ops.meta, all_tables(&request), &parameters)?;
    let unless = conditional::if_none_match(&request)?;
    let row = guard
        .run(
            Access::Read,
            (ops.meta.name, "retrieve"),
            move |connection| {
                let row = fetch_one(ops, connection, filter.clone())?;
                match &expansions {
                    Some(expansions) => expansions.apply_to_row(connection, &row),
                    None => Ok(row),
                }
            },
        )
        .await?;
    let row = match selection {
        Some(selection) => selection.apply_to_row(&row)?,
        None => row,
    };
    respond_with_etag(conditional::strong_etag(row.as_bytes()), unless, row)
}

/// PUT (`WriteMode::Replace`: required columns must be present, as on create) and PATCH
/// (`WriteMode::Partial`: any subset) on `/{project}/{table}/{pk}/`.
async fn write_existing(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
    mode: WriteMode,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter(ops.meta, &request)?;
    let precondition = conditional::if_match(&request)?;
    let body = body::read_json_body(&request, payload, settings.max_body_bytes).await?;
    let canonical: Map<String, Value> = body::validate(ops.meta, body, mode)?;
    let version = structure_version(&request);
    // Nothing to set: the answer is the row as it is, read like any GET.
    let access = if canonical.is_empty() {
        Access::Read
    } else {
        Access::Write
    };
    let row = guard
        .run(
            access,
            (ops.meta.name, "update"),
            move |connection| -> Result<String, ApiError> {
                let row = if canonical.is_empty() {
                    let row = fetch_one(ops, connection, filter.clone())?;
                    if precondition.as_ref().is_some_and(|condition| {
                        !condition.matches_strong(&conditional::strong_etag(row.as_bytes()))
                    }) {
                        return Err(ApiError::PreconditionFailed);
                    }
                    return Ok(row);
                } else {
                    match write_transaction(connection, &version, |connection| {
                        check_if_match(ops, connection, &filter, precondition.as_ref())?;
                        (ops.writes().update)(connection, filter.clone(), canonical.clone())
                    }) {
                        Ok(Some(row)) => row,
                        Ok(None) => return Err(ApiError::NotFound),
                        Err(GuardedWriteError::Refused(error)) => return Err(error),
                        Err(GuardedWriteError::Failed(error)) => {
                            return Err(explain_write_error(
                                ops.meta,
                                connection,
                                &canonical,
                                WriteKind::Update,
                                error,
                            ));
                        }
                    }
                };
                serde_json::to_string(&row)
                    .map_err(|error| ApiError::internal("row serialization", error))
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, conditional::strong_etag(row.as_bytes())))
        .content_type("application/json")
        .body(row))
}

/// DELETE `/{project}/{table}/{pk}/`: 204 without a body.
async fn destroy(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter(ops.meta, &request)?;
    let precondition = conditional::if_match(&request)?;
    let version = structure_version(&request);
    guard
        .run(
            Access::Write,
            (ops.meta.name, "destroy"),
            move |connection| -> Result<(), ApiError> {
                match write_transaction(connection, &version, |connection| {
                    check_if_match(ops, connection, &filter, precondition.as_ref())?;
                    Ok((ops.writes().delete)(connection, filter.clone())?)
                }) {
                    Ok(0) => Err(ApiError::NotFound),
                    Ok(_) => Ok(()),
                    Err(GuardedWriteError::Refused(error)) => Err(error),
                    Err(GuardedWriteError::Failed(error)) => Err(explain_write_error(
                        ops.meta,
                        connection,
                        &Map::new(),
                        WriteKind::Delete,
                        error,
                    )),
                }
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
