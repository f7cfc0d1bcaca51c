//! Whole-table export: a list's rows as CSV (RFC 4180, with a header row) or as NDJSON (one
//! JSON object a line), asked for with `Accept: text/csv` / `application/x-ndjson` or DRF's
//! format override `?format=csv` / `ndjson`. Filters, ordering, search, `fields` and `omit`
//! apply; there is no paging: every matching row is sent, read in keyset batches of
//! [`BATCH_ROWS`] from one snapshot and written out as they come, so memory does not grow with
//! the table. A client that goes away stops the export between two batches.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use crate::connections::db::DbConnection;
use crate::connections::pool::Access;
use crate::connections::transaction::read_in_one_snapshot;
use crate::data::export_rows::{ExportShape, write_csv_record};
use crate::data::sql::{SqlFilter, SqlOrder};
use crate::data::table_ops::TableOps;
use crate::http::cursor::Cursor;
use crate::http::error::ApiError;
use crate::http::guard::ProjectConnection;
use crate::http::list;

/// Rows read and sent at a time: a few hundred kilobytes of JSON for ordinary rows.
pub const BATCH_ROWS: usize = 1000;

/// Chunks waiting to be sent: the reader stays at most this far ahead of a slow client.
const CHUNKS_AHEAD: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExportFormat {
    Csv,
    NdJson,
}

impl ExportFormat {
    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::NdJson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::NdJson => "ndjson",
        }
    }
}

/// The export format a list request asks for, if any: `?format=` first (as DRF's override),
/// else an `Accept` that names CSV or NDJSON and not JSON.
pub(super) fn format_of(
    request: &HttpRequest,
    parameters: &[(String, String)],
) -> Option<ExportFormat> {
    match list::last_value(parameters, "format") {
        Some("csv") => return Some(ExportFormat::Csv),
        Some("ndjson") => return Some(ExportFormat::NdJson),
        Some(_) => return None,
        None => {}
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if accept.contains("json") && !accept.contains("ndjson") {
        return None;
    }
    if accept.contains("text/csv") {
        Some(ExportFormat::Csv)
    } else if accept.contains("application/x-ndjson") {
        Some(ExportFormat::NdJson)
    } else {
        None
    }
}

/// What an export reads: the rows matching `filter` in `order`, the columns in `columns`.
struct ExportPlan {
    ops: &'static TableOps,
    filter: SqlFilter,
    order: SqlOrder,
    columns: Vec<&'static str>,
    shape: ExportShape,
}

/// The response of an export: its headers at once, its rows as they are read.
pub(super) async fn export(
    ops: &'static TableOps,
    request: &HttpRequest,
    guard: ProjectConnection,
    list_request: list::ListRequest,
    parameters: &[(String, String)],
    format: ExportFormat,
) -> Result<HttpResponse, ApiError> {
    for paging in ["page", "page_size", "cursor", "count", "expand"] {
        if list::last_value(parameters, paging).is_some() {
            return Err(ApiError::BadRequest(format!(
                "An export (CSV or NDJSON) holds every matching row of the table's own fields, unpaged: leave out {paging} (exports take no page, page_size, cursor, count or expand)."
            )));
        }
    }
    list::check_cursor_order(ops.meta, &list_request.order).map_err(|error| match error {
        ApiError::BadRequest(message) => ApiError::BadRequest(format!(
            "An export reads the rows in keyset batches, like cursor pages. {}",
            message.replace("Cursor pagination", "It")
        )),
        other => other,
    })?;
    let columns = exported_columns(ops, parameters);
    let filename = format!(
        "{}.{}",
        ops.meta
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            })
            .collect::<String>(),
        format.extension()
    );
    let mut response = HttpResponse::Ok();
    response.content_type(format.content_type()).insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ));
    if request.method() == actix_web::http::Method::HEAD {
        return Ok(response.finish());
    }
    let every_column = columns.len() == ops.meta.columns.len();
    let plan = Arc::new(ExportPlan {
        ops,
        filter: list_request.filter,
        order: list_request.order,
        shape: ExportShape {
            csv: format == ExportFormat::Csv,
            columns: (!every_column).then(|| columns.clone()),
        },
        columns,
    });
    let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    let project = guard.project.clone();
    actix_web::rt::spawn(async move {
        let mut started = false;
        let work_sender = sender.clone();
        let outcome = guard
            .run_unbounded(
                Access::Read,
                (plan.ops.meta.name, "export"),
                move |connection| {
                    // A connection lost after rows went out must not send them again.
                    if std::mem::replace(&mut started, true) {
                        return Err(ApiError::internal(
                            "export",
                            "the connection was lost after rows were sent",
                        ));
                    }
                    read_in_one_snapshot(connection, |connection| {
                        send_rows(&plan, connection, &work_sender)
                    })
                },
            )
            .await;
        if let Err(error) = outcome {
            // The headers went out already: the client sees the body end early.
            tracing::warn!("project {project}: export ended early: {error}");
            let _ = sender
                .send(Err(std::io::Error::other("the export ended early")))
                .await;
        }
    });
    Ok(response.body(Chunks(receiver)))
}

/// The columns an export writes, in the table's order: `fields` keeps the named ones, `omit`
/// leaves the named ones out (both checked like a list's, by `Shaping::parse`).
fn exported_columns(ops: &'static TableOps, parameters: &[(String, String)]) -> Vec<&'static str> {
    let named = |parameter: &str| -> Option<Vec<String>> {
        list::joined_values(parameters, parameter).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .collect()
        })
    };
    let (fields, omit) = (named("fields"), named("omit"));
    ops.meta
        .columns
        .iter()
        .map(|column| column.name)
        .filter(|name| {
            fields
                .as_ref()
                .is_none_or(|fields| fields.iter().any(|field| field == name))
        })
        .filter(|name| {
            omit.as_ref()
                .is_none_or(|omit| !omit.iter().any(|field| field == name))
        })
        .collect()
}

/// Reads batch after batch and hands each to the response; stops when the rows run out or the
/// client is gone (the response, and with it the receiver, dropped).
fn send_rows(
    plan: &ExportPlan,
    connection: &mut DbConnection,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), ApiError> {
    if plan.shape.csv {
        let mut header = String::new();
        write_csv_record(&mut header, plan.columns.iter().copied());
        if sender.blocking_send(Ok(Bytes::from(header))).is_err() {
            return Ok(());
        }
    }
    let mut position: Option<Vec<Value>> = None;
    let mut chunk_capacity = 64 * BATCH_ROWS;
    loop {
        let mut filter = plan.filter.clone();
        if let Some(position) = &position {
            Cursor {
                reverse: false,
                position: position.clone(),
            }
            .restrict(plan.ops.meta, &plan.order, &mut filter)?;
        }
        let window = plan.order.clone().window(BATCH_ROWS as u64, 0);
        let mut chunk = String::with_capacity(chunk_capacity);
        let (loaded, last) =
            (plan.ops.export_batch)(connection, filter, window, &plan.shape, &mut chunk)?;
        chunk_capacity = chunk_capacity.max(chunk.len());
        if !chunk.is_empty() && sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
            return Ok(());
        }
        match last {
            Some(last) if loaded >= BATCH_ROWS => {
                position = Some(Cursor::position_of(&plan.order, &last));
            }
            _ => return Ok(()),
        }
    }
}

/// The response body: chunks as the reader sends them.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl actix_web::body::MessageBody for Chunks {
    type Error = std::io::Error;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.0.poll_recv(context)
    }
}
