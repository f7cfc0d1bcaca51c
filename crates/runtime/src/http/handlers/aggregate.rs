//! `GET /{project}/{table}/aggregate/`: counts, sums, averages and extremes per group, in
//! DRF's numbered pages of groups; and its `OPTIONS`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{Table, TableIndex, read_across_switch, respond_with_etag, table_ops};
use crate::connections::pool::Access;
use crate::http::aggregate::{self, AggregateRequest};
use crate::http::conditional;
use crate::http::error::ApiError;
use crate::http::guard::ProjectConnection;
use crate::http::list::{self, PageNumber};
use crate::http::settings::ApiSettings;
use crate::http::simple_metadata;

/// GET `/{project}/{table}/aggregate/`: one page of groups.
pub(super) async fn aggregate(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    read_across_switch(&request, guard, |guard| {
        aggregate_at(&table, &request, guard, &settings)
    })
    .await
}

async fn aggregate_at(
    table: &Table,
    request: &HttpRequest,
    guard: ProjectConnection,
    settings: &ApiSettings,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let tables = table_ops(table, &guard);
    let related = |name: &str| tables(name).map(|ops| ops.meta);
    let parameters = list::query_pairs(request.query_string())?;
    let AggregateRequest {
        query,
        page,
        page_size,
    } = aggregate::parse_aggregate_request(
        ops.meta,
        guard.backend,
        &parameters,
        settings.pages,
        &related,
    )?;
    let unless = conditional::if_none_match(request)?;
    let (groups, page, objects) = guard
        .run(
            Access::Read,
            (ops.meta.name, "aggregate"),
            move |connection| -> Result<(i64, u64, Vec<String>), ApiError> {
                let page = match page {
                    PageNumber::Number(page) => page,
                    PageNumber::Last => {
                        let groups = query.count_groups(connection)?.max(0) as u64;
                        groups.div_ceil(page_size).max(1)
                    }
                };
                // A page beyond any table's reach is past the end like any other.
                let offset = (page - 1)
                    .checked_mul(page_size)
                    .filter(|offset| i64::try_from(*offset).is_ok())
                    .ok_or(ApiError::InvalidPage)?;
                let read = query.read_page(connection, page_size, offset)?;
                match read.groups {
                    Some(groups) => Ok((groups, page, read.objects)),
                    // No group on the first page: none at all; on any other: past the end.
                    None if page == 1 => Ok((0, 1, Vec::new())),
                    None => Err(ApiError::InvalidPage),
                }
            },
        )
        .await?;
    let groups_json = format!("[{}]", objects.join(","));
    let body = super::pages::numbered_envelope(
        request,
        Some(groups),
        page,
        false,
        page_size,
        groups_json,
    )?;
    respond_with_etag(conditional::weak_etag(body.as_bytes()), unless, body)
}

/// OPTIONS `/{project}/{table}/aggregate/`: DRF's metadata of the table's list, with what each
/// aggregate parameter takes (`aggregates`).
pub(super) async fn options_aggregate(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let mut document =
        simple_metadata::describe(ops.meta, simple_metadata::Route::Collection, None);
    if let serde_json::Value::Object(fields) = &mut document {
        fields.insert("aggregates".into(), aggregate::metadata(ops.meta));
    }
    Ok(super::options_response(document, AGGREGATE_METHODS))
}

/// The methods the route answers.
const AGGREGATE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// Any other method: 404 for a table no served version has, else 405 naming the route's
/// methods (DRF's answer on a list action's route).
pub(super) async fn other_method(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let index = request
        .app_data::<web::Data<TableIndex>>()
        .expect("BUG: register_tables registers the table index");
    let name = request.match_info().get("table").unwrap_or_default();
    if !index.methods_by_any.contains_key(name) {
        return Err(ApiError::NotFound);
    }
    Err(ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        allowed: AGGREGATE_METHODS.to_vec(),
    })
}
