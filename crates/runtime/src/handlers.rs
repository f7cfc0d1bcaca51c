//! The generic CRUD handlers every generated table registers, with DRF's HTTP conventions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use crate::body::{self, WriteMode};
use crate::constraint::{WriteKind, explain_write_error};
use crate::db::DbConnection;
use crate::error::{ApiError, WriteError};
use crate::guard::ProjectConnection;
use crate::list::{self, PageNumber, PageSettings};
use crate::meta::{Resource, WritableResource};
use crate::sql::SqlOrder;
use crate::version::StructureVersion;
use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;

/// Limits from the server's configuration, registered once as `web::Data<ApiSettings>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSettings {
    pub pages: PageSettings,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            pages: PageSettings::default(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Registers a writable table's routes, relative to the API root:
/// `/{project}/{table}/` (GET, POST) and `/{project}/{table}/{pk}/` (GET, PUT, PATCH, DELETE).
pub fn register<R: WritableResource>(config: &mut web::ServiceConfig) {
    let collection = readable_collection::<R>().route(web::post().to(create::<R>));
    config.service(with_allowed(collection, &["GET", "POST", "HEAD"]));
    let detail = readable_detail::<R>()
        .route(web::put().to(update::<R>))
        .route(web::patch().to(partial_update::<R>))
        .route(web::delete().to(destroy::<R>));
    config.service(with_allowed(
        detail,
        &["GET", "PUT", "PATCH", "DELETE", "HEAD"],
    ));
}

/// Registers a read-only table's routes: GET only, and the detail route only with a primary key.
pub fn register_read_only<R: Resource>(config: &mut web::ServiceConfig) {
    config.service(with_allowed(readable_collection::<R>(), &["GET", "HEAD"]));
    if R::META.has_primary_key() {
        config.service(with_allowed(readable_detail::<R>(), &["GET", "HEAD"]));
    }
}

fn readable_collection<R: Resource>() -> actix_web::Resource {
    web::resource(format!("/{{project}}/{}/", R::META.name))
        .route(web::get().to(list::<R>))
        .route(web::head().to(list::<R>))
}

fn readable_detail<R: Resource>() -> actix_web::Resource {
    web::resource(format!("/{{project}}/{}/{{pk}}/", R::META.name))
        .route(web::get().to(retrieve::<R>))
        .route(web::head().to(retrieve::<R>))
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

#[derive(serde::Serialize)]
struct Page<T> {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<T>,
}

/// GET `/{project}/{table}/`: one page of rows, filtered and ordered.
pub async fn list<R: Resource>(
    request: HttpRequest,
    mut guard: ProjectConnection,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let list_request = list::parse_list_request(
        R::META,
        guard.backend,
        request.query_string(),
        settings.pages,
    )?;
    let page_size = list_request.page_size;
    guard.reserve().await?;
    let (count, page, rows) = web::block(move || -> Result<(i64, u64, Vec<R::Row>), ApiError> {
        let connection = guard.connection()?;
        let count = R::count(connection, list_request.filter.clone())?;
        let page_count = (count.max(0) as u64).div_ceil(page_size).max(1);
        let page = match list_request.page {
            PageNumber::Number(number) => number,
            PageNumber::Last => page_count,
        };
        if page > page_count {
            return Err(ApiError::InvalidPage);
        }
        let offset = ((page - 1) * page_size) as i64;
        let rows = R::load(
            connection,
            list_request.filter,
            list_request.order,
            page_size as i64,
            offset,
        )?;
        Ok((count, page, rows))
    })
    .await
    .map_err(|error| ApiError::internal("list task failed", error))??;
    let page_count = (count.max(0) as u64).div_ceil(page_size).max(1);
    let next = (page < page_count).then(|| page_url(&request, Some(page + 1)));
    let previous =
        (page > 1).then(|| page_url(&request, if page == 2 { None } else { Some(page - 1) }));
    Ok(HttpResponse::Ok().json(Page {
        count,
        next,
        previous,
        results: rows,
    }))
}

/// The absolute URL of this request with `page` replaced (or removed), as DRF builds links.
fn page_url(request: &HttpRequest, page: Option<u64>) -> String {
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    pairs.retain(|(key, _)| key != "page");
    if let Some(page) = page {
        pairs.push(("page".into(), page.to_string()));
    }
    let base = absolute_path(request, request.path());
    if pairs.is_empty() {
        base
    } else {
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// `scheme://host` plus `path`, as the client addressed this server.
pub fn absolute_path(request: &HttpRequest, path: &str) -> String {
    let info = request.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), path)
}

/// Reads a JSON body after checking its type and size, before anything touches the database.
async fn read_json_body(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    body::check_content_type(content_type)?;
    if let Some(length) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        && length > limit
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|error| {
            ApiError::BadRequest(format!("The request body could not be read: {error}"))
        })?;
    body::parse_json_body(&bytes)
}

/// The version this server serves, registered by the server from the generated crate.
fn structure_version(request: &HttpRequest) -> StructureVersion {
    *request
        .app_data::<web::Data<StructureVersion>>()
        .expect("BUG: web::Data<StructureVersion> was not registered")
        .get_ref()
}

/// Why a guarded write did not happen.
enum GuardedWriteError {
    /// The database no longer records the served structure version.
    Refused(ApiError),
    Failed(WriteError),
}

impl From<diesel::result::Error> for GuardedWriteError {
    fn from(error: diesel::result::Error) -> Self {
        GuardedWriteError::Failed(WriteError::Database(error))
    }
}

/// Runs a write in one transaction with a check that the database records the served
/// structure version, so that no write lands in a database whose structure changed since
/// this server last looked. On PostgreSQL the version row is locked `FOR SHARE` until the
/// write commits, so a migration that changes it waits for the write (or the write sees the
/// new version and is refused). On SQLite the transaction is `BEGIN IMMEDIATE`: it holds the
/// database's write lock from the version check to the commit, and it also keeps concurrent
/// writers from failing with "database is locked" when a read would have to become a write.
fn guarded_write<T>(
    connection: &mut DbConnection,
    version: &StructureVersion,
    write: impl FnOnce(&mut DbConnection) -> Result<T, WriteError>,
) -> Result<T, GuardedWriteError> {
    let checked_write = |connection: &mut DbConnection| {
        version
            .verify_for_write(connection)
            .map_err(GuardedWriteError::Refused)?;
        write(connection).map_err(GuardedWriteError::Failed)
    };
    match connection {
        DbConnection::Pg(_) => connection.transaction(checked_write),
        DbConnection::Sqlite(_) => {
            // diesel's transaction manager only issues a deferred BEGIN; nothing inside
            // `write` opens a transaction of its own, so managing this one by hand is safe.
            if let Err(error) = connection.batch_execute("BEGIN IMMEDIATE") {
                return Err(match error {
                    // Another writer kept the lock past the busy timeout: try again later.
                    diesel::result::Error::DatabaseError(_, ref info)
                        if info.message().contains("locked") || info.message().contains("busy") =>
                    {
                        GuardedWriteError::Refused(ApiError::Unavailable {
                            detail: "The project database is busy. Try again.".into(),
                            retry_after_seconds: 1,
                        })
                    }
                    other => other.into(),
                });
            }
            let mut transaction = SqliteWriteTransaction {
                connection,
                finished: false,
            };
            let value = checked_write(transaction.connection)?;
            transaction.connection.batch_execute("COMMIT")?;
            transaction.finished = true;
            Ok(value)
        }
    }
}

/// A hand-opened SQLite transaction that is rolled back unless it was committed, whatever
/// ends it (an error, a failed COMMIT, a panic), so that no pooled connection goes back to
/// its pool holding the database's write lock.
struct SqliteWriteTransaction<'a> {
    connection: &'a mut DbConnection,
    finished: bool,
}

impl Drop for SqliteWriteTransaction<'_> {
    fn drop(&mut self) {
        if !self.finished
            && let Err(error) = self.connection.batch_execute("ROLLBACK")
        {
            log::error!("rolling back an unfinished SQLite write failed: {error}");
        }
    }
}

/// POST `/{project}/{table}/`: 201 with the new row and its `Location`.
pub async fn create<R: WritableResource>(
    request: HttpRequest,
    mut guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, settings.max_body_bytes).await?;
    let canonical = body::validate(R::META, body, WriteMode::Create)?;
    let version = structure_version(&request);
    guard.reserve().await?;
    let row = web::block(move || -> Result<Value, ApiError> {
        let connection = guard.connection()?;
        match guarded_write(connection, &version, |connection| {
            R::insert(connection, canonical.clone())
        }) {
            Ok(row) => serde_json::to_value(row)
                .map_err(|error| ApiError::internal("row serialization", error)),
            Err(GuardedWriteError::Refused(error)) => Err(error),
            Err(GuardedWriteError::Failed(error)) => Err(explain_write_error(
                R::META,
                connection,
                &canonical,
                WriteKind::Insert,
                error,
            )),
        }
    })
    .await
    .map_err(|error| ApiError::internal("create task failed", error))??;
    let mut response = HttpResponse::Created();
    if let Some(segment) = list::primary_key_segment(R::META, &row) {
        response.insert_header((
            header::LOCATION,
            absolute_path(&request, &format!("{}{segment}/", request.path())),
        ));
    }
    Ok(response.json(row))
}

fn key_filter<R: Resource>(request: &HttpRequest) -> Result<crate::sql::SqlFilter, ApiError> {
    // The raw segment, not `match_info()`: the router decodes `%2C`, and a comma inside a
    // value of a composite key must not become a separator.
    let segment = request
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    list::parse_primary_key(R::META, segment)
}

fn primary_key_order<R: Resource>() -> SqlOrder {
    SqlOrder::new(
        R::META
            .primary_key_columns()
            .map(|column| (column.name, false))
            .collect(),
    )
}

fn fetch_one<R: Resource>(
    guard: &mut ProjectConnection,
    filter: crate::sql::SqlFilter,
) -> Result<R::Row, ApiError> {
    R::load(guard.connection()?, filter, primary_key_order::<R>(), 1, 0)?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound)
}

/// GET `/{project}/{table}/{pk}/`.
pub async fn retrieve<R: Resource>(
    request: HttpRequest,
    mut guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter::<R>(&request)?;
    guard.reserve().await?;
    let row = web::block(move || fetch_one::<R>(&mut guard, filter))
        .await
        .map_err(|error| ApiError::internal("retrieve task failed", error))??;
    Ok(HttpResponse::Ok().json(row))
}

/// PUT `/{project}/{table}/{pk}/`: required columns must be present, as on create.
pub async fn update<R: WritableResource>(
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    write_existing::<R>(request, guard, payload, settings, WriteMode::Replace).await
}

/// PATCH `/{project}/{table}/{pk}/`: any subset of columns.
pub async fn partial_update<R: WritableResource>(
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    write_existing::<R>(request, guard, payload, settings, WriteMode::Partial).await
}

async fn write_existing<R: WritableResource>(
    request: HttpRequest,
    mut guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
    mode: WriteMode,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter::<R>(&request)?;
    let body = read_json_body(&request, payload, settings.max_body_bytes).await?;
    let canonical: Map<String, Value> = body::validate(R::META, body, mode)?;
    let version = structure_version(&request);
    guard.reserve().await?;
    let row = web::block(move || -> Result<Value, ApiError> {
        let row = if canonical.is_empty() {
            // Nothing to set: diesel refuses an empty changeset, and the answer is the row as is.
            fetch_one::<R>(&mut guard, filter)?
        } else {
            let connection = guard.connection()?;
            match guarded_write(connection, &version, |connection| {
                R::update(connection, filter, canonical.clone())
            }) {
                Ok(Some(row)) => row,
                Ok(None) => return Err(ApiError::NotFound),
                Err(GuardedWriteError::Refused(error)) => return Err(error),
                Err(GuardedWriteError::Failed(error)) => {
                    return Err(explain_write_error(
                        R::META,
                        connection,
                        &canonical,
                        WriteKind::Update,
                        error,
                    ));
                }
            }
        };
        serde_json::to_value(row).map_err(|error| ApiError::internal("row serialization", error))
    })
    .await
    .map_err(|error| ApiError::internal("update task failed", error))??;
    Ok(HttpResponse::Ok().json(row))
}

/// DELETE `/{project}/{table}/{pk}/`: 204 without a body.
pub async fn destroy<R: WritableResource>(
    request: HttpRequest,
    mut guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let filter = key_filter::<R>(&request)?;
    let version = structure_version(&request);
    guard.reserve().await?;
    web::block(move || -> Result<(), ApiError> {
        let connection = guard.connection()?;
        match guarded_write(connection, &version, |connection| {
            Ok(R::delete(connection, filter)?)
        }) {
            Ok(0) => Err(ApiError::NotFound),
            Ok(_) => Ok(()),
            Err(GuardedWriteError::Refused(error)) => Err(error),
            Err(GuardedWriteError::Failed(error)) => Err(explain_write_error(
                R::META,
                connection,
                &Map::new(),
                WriteKind::Delete,
                error,
            )),
        }
    })
    .await
    .map_err(|error| ApiError::internal("delete task failed", error))??;
    Ok(HttpResponse::NoContent().finish())
}
