//! The generic CRUD handlers every generated table registers, with DRF's HTTP conventions:
//! the two routes and what they share here; lists in `pages.rs`, `OPTIONS` in `options.rs`,
//! creates in `create.rs`, and the reads and writes of one row in `item.rs`.

use std::collections::HashMap;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::connections::db::DbConnection;
use crate::connections::version::StructureVersion;
use crate::data::meta::TableMeta;
use crate::data::sql::SqlFilter;
use crate::http::conditional;
use crate::http::error::ApiError;
use crate::http::key_path;
use crate::http::settings::ApiSettings;

mod aggregate;
mod create;
mod export;
mod item;
mod options;
mod pages;

/// Runs a single-row write as one guarded statement in its own transaction
/// (`write::guarded`): what it wrote; else, when nothing was, why (`unwritten` if the
/// structure version holds); or the database's refusal, explained like any write's.
fn run_guarded<T>(
    ops: &'static TableOps,
    connection: &mut DbConnection,
    version: &StructureVersion,
    body: &serde_json::Map<String, Value>,
    kind: crate::data::constraint::WriteKind,
    unwritten: ApiError,
    write: impl FnOnce(&mut DbConnection) -> Result<Option<T>, crate::data::write_error::WriteError>,
) -> Result<T, ApiError> {
    use diesel::Connection as _;
    match connection.transaction(write) {
        Ok(Some(written)) => Ok(written),
        Ok(None) => Err(
            crate::connections::version::why_unwritten(connection, version)
                .map_or(unwritten, ApiError::from),
        ),
        Err(error) => Err(explain_write_error(ops.meta, connection, body, kind, error)),
    }
}

/// A failed write as the client learns it: `data::constraint` explains it, `ApiError` answers.
fn explain_write_error(
    meta: &crate::data::meta::TableMeta,
    connection: &mut DbConnection,
    body: &serde_json::Map<String, Value>,
    kind: crate::data::constraint::WriteKind,
    error: crate::data::write_error::WriteError,
) -> ApiError {
    crate::data::constraint::explain_write_error(meta, connection, body, kind, error).into()
}

/// A read's `expand`, `fields` and `omit`, within the configured row bound.
fn shaping_of(
    ops: &'static TableOps,
    guard: &ProjectConnection,
    parameters: &[(String, String)],
    settings: &ApiSettings,
) -> Result<crate::http::shaping::Shaping, ApiError> {
    crate::http::shaping::Shaping::parse(
        ops.meta,
        guard.served.tables,
        parameters,
        settings.max_read_rows,
    )
}

use crate::api::GeneratedApi;
use crate::data::table_ops::TableOps;
use crate::http::guard::ProjectConnection;

/// The tables of every served structure version by URL segment, registered beside the routes.
pub struct TableIndex {
    by_version: HashMap<&'static str, VersionTables>,
    /// The methods of each table name's routes over all versions (collection, item), for the
    /// answers given before anyone is authenticated.
    methods_by_any: HashMap<&'static str, (Vec<&'static str>, Vec<&'static str>)>,
}

struct VersionTables {
    api: &'static GeneratedApi,
    by_name: HashMap<&'static str, &'static TableOps>,
}

impl TableIndex {
    fn new(api: &'static GeneratedApi) -> TableIndex {
        let mut by_version = HashMap::new();
        let mut methods_by_any: HashMap<&'static str, (Vec<&'static str>, Vec<&'static str>)> =
            HashMap::new();
        for version in api.versions() {
            for ops in version.tables {
                let (collection, item) = methods_by_any.entry(ops.meta.name).or_default();
                for method in allowed_methods(ops, false) {
                    if !collection.contains(method) {
                        collection.push(method);
                    }
                }
                if ops.meta.has_primary_key() {
                    for method in allowed_methods(ops, true) {
                        if !item.contains(method) {
                            item.push(method);
                        }
                    }
                }
            }
            by_version.insert(
                version.schema_version,
                VersionTables {
                    api: version,
                    by_name: version
                        .tables
                        .iter()
                        .map(|ops| (ops.meta.name, *ops))
                        .collect(),
                },
            );
        }
        TableIndex {
            by_version,
            methods_by_any,
        }
    }
}

/// The table named by the route's `{table}`, for a method some served version serves it
/// with. It is the first argument of every table handler, so that a table no version has
/// answers 404 and a method no version serves on it 405 before anyone is authenticated; the
/// handler then takes the table of the version its project is served at ([`Table::at`]).
struct Table {
    name: &'static str,
    item: bool,
    index: web::Data<TableIndex>,
}

impl actix_web::FromRequest for Table {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Table, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(table_of(request))
    }
}

fn table_of(request: &HttpRequest) -> Result<Table, ApiError> {
    let index = request
        .app_data::<web::Data<TableIndex>>()
        .expect("BUG: register_tables registers the table index")
        .clone();
    let name = request.match_info().get("table").unwrap_or_default();
    let (&name, (collection, item_methods)) = index
        .methods_by_any
        .get_key_value(name)
        .ok_or(ApiError::NotFound)?;
    let item = request.match_info().get("pk").is_some();
    let allowed = if item { item_methods } else { collection };
    if allowed.is_empty() {
        return Err(ApiError::NotFound);
    }
    if !allowed.contains(&request.method().as_str()) {
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allowed: allowed.clone(),
        });
    }
    Ok(Table { name, item, index })
}

impl Table {
    /// The table's operations at the version `guard` serves its project at: 404 when that
    /// version has no such table (or no key to address a row by), 405 for a method it does
    /// not serve there.
    fn at(
        &self,
        guard: &ProjectConnection,
        method: &actix_web::http::Method,
    ) -> Result<&'static TableOps, ApiError> {
        let ops = self
            .index
            .by_version
            .get(guard.served.schema_version)
            .and_then(|version| version.by_name.get(self.name))
            .copied()
            .ok_or(ApiError::NotFound)?;
        if self.item && !ops.meta.has_primary_key() {
            return Err(ApiError::NotFound);
        }
        let allowed = allowed_methods(ops, self.item);
        if !allowed.contains(&method.as_str()) {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                allowed: allowed.to_vec(),
            });
        }
        Ok(ops)
    }
}

/// Serves a read at the version its project is served at and, when the database is found to
/// have moved to another served version while it ran (a migration committed under it), once
/// more at that version: a read meets a version switch without failing.
async fn read_across_switch<F, Fut>(
    request: &HttpRequest,
    guard: ProjectConnection,
    mut read: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnMut(ProjectConnection) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, ApiError>>,
{
    let first = read(guard.clone()).await;
    let Some(to) = first.as_ref().err().and_then(ApiError::switched_to) else {
        return first;
    };
    let index = request
        .app_data::<web::Data<TableIndex>>()
        .expect("BUG: register_tables registers the table index");
    match index.by_version.get(to) {
        Some(version) => read(guard.at_version(request, version.api)).await,
        None => first,
    }
}

/// The methods a table's collection (`item == false`) or item route serves.
fn allowed_methods(ops: &TableOps, item: bool) -> &'static [&'static str] {
    match (ops.writes.is_some(), item) {
        (true, false) => &["GET", "POST", "HEAD", "OPTIONS"],
        (true, true) => &["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        (false, _) => &["GET", "HEAD", "OPTIONS"],
    }
}

/// Registers two routes for the tables of every version `api` serves:
/// `/{project}/{table}/` and `/{project}/{table}/{pk}/`. The table is looked up by name in a
/// hash map, not matched route by route: actix tries routes one after the other, with a
/// regular expression each, which cost 4 % of the server's CPU with seven tables and would
/// grow with every table of a large structure.
pub fn register_tables(config: &mut web::ServiceConfig, api: &'static GeneratedApi) {
    let index = web::Data::new(TableIndex::new(api));
    let collection = web::resource("/{project}/{table}/")
        .app_data(index.clone())
        .route(web::get().to(pages::list))
        .route(web::head().to(pages::list))
        .route(web::method(Method::OPTIONS).to(options::options_collection))
        .route(web::post().to(create::create))
        .default_service(web::to(|_: Table| async {
            // Only reached by a method the table serves but no route above takes.
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
    // Before the item route, which would take `aggregate` for a key: as DRF's router puts a
    // list action before the detail route, a row keyed `aggregate` is not reached through
    // this path (reading it is `?key=aggregate` on the list). Other methods answer 405.
    let aggregate = web::resource("/{project}/{table}/aggregate/")
        .app_data(index.clone())
        .route(web::get().to(aggregate::aggregate))
        .route(web::head().to(aggregate::aggregate))
        .default_service(web::to(aggregate::other_method))
        .route(web::method(Method::OPTIONS).to(aggregate::options_aggregate));
    let item = web::resource("/{project}/{table}/{pk}/")
        .app_data(index)
        .route(web::get().to(item::retrieve))
        .route(web::head().to(item::retrieve))
        .route(web::method(Method::OPTIONS).to(options::options_item))
        .route(web::put().to(item::replace))
        .route(web::patch().to(item::partial_update))
        .route(web::delete().to(item::destroy))
        .default_service(web::to(|_: Table| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
    config.service(collection).service(aggregate).service(item);
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

/// Every table's operations by name at the version `guard` serves, for filters across
/// foreign keys.
fn table_ops<'a>(
    table: &'a Table,
    guard: &ProjectConnection,
) -> impl Fn(&str) -> Option<&'static TableOps> + 'a {
    let version = table.index.by_version.get(guard.served.schema_version);
    move |name| version.and_then(|version| version.by_name.get(name).copied())
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

/// The version `guard` serves its project at, which a write checks inside its transaction.
fn structure_version(guard: &ProjectConnection) -> StructureVersion {
    guard.served.served_version()
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
    key_path::parse_primary_key(meta, segment)
}

/// The row matching `filter` as a JSON object, or 404.
fn fetch_one(
    ops: &'static TableOps,
    connection: &mut DbConnection,
    filter: SqlFilter,
) -> Result<String, ApiError> {
    (ops.row_json)(connection, filter)?.ok_or(ApiError::NotFound)
}
