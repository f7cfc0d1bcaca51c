//! `OPTIONS` on a table's routes: DRF's metadata, the write actions the caller may use, and
//! what `?expand=` accepts.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::Table;
use super::{allowed_methods, key_filter, options_response, read_across_switch};
use crate::connections::pool::Access;
use crate::data::table_ops::TableOps;
use crate::http::error::ApiError;
use crate::http::expand;
use crate::http::guard::ProjectConnection;
use crate::http::simple_metadata;

/// OPTIONS `/{project}/{table}/`: DRF's metadata, with the `POST` fields for writers.
pub(super) async fn options_collection(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let writable = ops.writes.is_some();
    let action = (writable && guard.may_write).then_some("POST");
    let allowed = allowed_methods(ops, false);
    let mut document =
        simple_metadata::describe(ops.meta, simple_metadata::Route::Collection, action);
    describe_expansions(&mut document, ops, &guard);
    if let Value::Object(fields) = &mut document {
        // What `/{table}/aggregate/` takes, so that a client finds it from the list.
        fields.insert(
            "aggregates".into(),
            crate::http::aggregate::metadata(ops.meta),
        );
    }
    Ok(options_response(document, allowed))
}

/// Adds what `?expand=` accepts on this table to its OPTIONS metadata (`expandable`: relation
/// names; a key field then holds a row, a `_set` is added as a list).
fn describe_expansions(document: &mut Value, ops: &'static TableOps, guard: &ProjectConnection) {
    let names: Vec<Value> = expand::relations(ops.meta, guard.served.tables)
        .into_iter()
        .map(|(name, _)| Value::String(name))
        .collect();
    if let Value::Object(fields) = document {
        fields.insert("expandable".into(), Value::Array(names));
    }
}

/// OPTIONS `/{project}/{table}/{pk}/`: DRF's metadata, with the `PUT` fields for writers when
/// the row exists (DRF leaves them out for a missing row).
pub(super) async fn options_item(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    // It reads the row: a read like any other when a migration switches the version under it.
    read_across_switch(&request, guard, |guard| {
        options_item_at(&table, &request, guard)
    })
    .await
}

async fn options_item_at(
    table: &Table,
    request: &HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let writable = ops.writes.is_some();
    let allowed = allowed_methods(ops, true);
    let mut action = None;
    if writable && guard.may_write {
        let exists = match key_filter(ops.meta, request) {
            Ok(filter) => {
                guard
                    .clone()
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
    let mut document = simple_metadata::describe(ops.meta, simple_metadata::Route::Item, action);
    describe_expansions(&mut document, ops, &guard);
    Ok(options_response(document, allowed))
}
