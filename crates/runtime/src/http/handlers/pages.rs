//! `GET /{project}/{table}/`: DRF's numbered pages (with their count modes, the last page read
//! from the end) and cursor pages, with expansions and field selection.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::Table;
use super::{read_across_switch, respond_with_etag, shaping_of, table_ops};
use crate::connections::db::{BackendKind, DbConnection};
use crate::connections::pool::Access;
use crate::data::meta::TableMeta;
use crate::data::sql::{SqlFilter, SqlOrder, SqlStatement};
use crate::data::table_ops::{PageRead, TableOps};
use crate::http::conditional;
use crate::http::cursor::{Cursor, CursorKey};
use crate::http::error::ApiError;
use crate::http::guard::ProjectConnection;
use crate::http::list::{self, CountMode, ListRequest, PageNumber, Paging};
use crate::http::settings::ApiSettings;
use crate::http::shaping::Shaping;
use crate::http::urls;

/// GET `/{project}/{table}/`: one page of rows, filtered and ordered.
pub(super) async fn list(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    read_across_switch(&request, guard, |guard| {
        list_at(&table, &request, guard, &settings)
    })
    .await
}

async fn list_at(
    table: &Table,
    request: &HttpRequest,
    guard: ProjectConnection,
    settings: &ApiSettings,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let tables = table_ops(table, &guard);
    let related = |name: &str| tables(name).map(|ops| ops.meta);
    let parameters = list::query_pairs(request.query_string())?;
    let list_request = list::parse_list_request_with_relations(
        ops.meta,
        guard.backend,
        &parameters,
        settings.pages,
        &related,
    )?;
    let shaping = shaping_of(ops, &guard, &parameters, settings)?;
    if let Some(format) = super::export::format_of(request, &parameters) {
        // `shaping` has checked `fields` and `omit`; an export writes them itself.
        drop(shaping);
        return super::export::export(ops, request, guard, list_request, &parameters, format).await;
    }
    let unless = conditional::if_none_match(request)?;
    let body = match list_request.paging.clone() {
        Paging::Numbered { page, count } => {
            numbered_page(ops, request, guard, list_request, page, count, shaping).await?
        }
        Paging::Cursor(cursor) => {
            cursor_page(
                ops,
                request,
                guard,
                list_request,
                &cursor,
                &settings.cursor_key,
                shaping,
            )
            .await?
        }
    };
    // Weak: the page's bytes carry its links, which follow the URL the client used.
    respond_with_etag(conditional::weak_etag(body.as_bytes()), unless, body)
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
    shaping: Shaping,
) -> Result<String, ApiError> {
    let page_size = list_request.page_size;
    let backend = guard.backend;
    let (count, page, more, rows) = guard
        .run(
            Access::Read,
            (ops.meta.name, "list"),
            move |connection| -> Result<(Option<i64>, u64, bool, String), ApiError> {
                shaping.read(connection, |connection| {
                    let (count, page, more, rows) = read_numbered_page(
                        ops,
                        connection,
                        &list_request,
                        backend,
                        page,
                        count_mode,
                    )?;
                    Ok((count, page, more, shaping.rows(connection, rows)?))
                })
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

/// The envelope of a numbered page around its rows (or groups).
pub(super) fn numbered_envelope(
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
    shaping: Shaping,
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
            shaping.read(connection, |connection| {
                let mut rows = (ops.page_json)(connection, filter.clone(), window, read)?;
                // Positions come from `ends`, read before shaping.
                rows.json = shaping.rows(connection, std::mem::take(&mut rows.json))?;
                Ok(rows)
            })
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
