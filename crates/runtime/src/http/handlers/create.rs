//! `POST /{project}/{table}/`: one row or a list of them (DRF's `many=True`), inserted or, with
//! `?on_conflict=`, upserted, in the version-checked write transaction.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::structure_version;
use crate::connections::db::DbConnection;
use crate::connections::pool::Access;
use crate::connections::version::{self, GuardedWriteError, write_transaction};
use crate::data::constraint::{WriteKind, explain_write_error};
use crate::data::meta::ColumnMeta;
use crate::http::body::{self, WriteMode};
use crate::http::conditional;
use crate::http::error::{ApiError, FieldErrors};
use crate::http::guard::ProjectConnection;
use crate::http::key_path;
use crate::http::settings::ApiSettings;
use crate::http::table_ops::TableOps;
use crate::http::urls;

/// POST `/{project}/{table}/`: 201 with the new row and its `Location`.
pub(super) async fn create(
    ops: &'static TableOps,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let conflict = crate::data::write::conflict_target(ops.meta, request.query_string())?;
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
                if conflict.is_none()
                    && !canonical.is_empty()
                    && version::runs_guarded_statements(connection)
                {
                    // Nothing written with the version as served: it changed and changed
                    // back, or the table held two rows; a retry meets whatever holds then.
                    return super::run_guarded(
                        ops,
                        connection,
                        &version,
                        &canonical,
                        WriteKind::Insert,
                        ApiError::project_busy(),
                        |connection| {
                            (ops.writes().insert_guarded)(connection, &version, &canonical)
                        },
                    );
                }
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
    if let Some(segment) = key_path::primary_key_segment(ops.meta, &row)
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
                // The item being written when the transaction failed; `None` when no item was
                // (its BEGIN, the list as one statement, its COMMIT, an empty list): then
                // there is no item to name.
                let mut failed_item = None;
                let outcome = write_transaction(connection, &version, |connection| {
                    // One statement for the whole list where the backend allows it, inside a
                    // savepoint: if the database refuses it, the row-by-row inserts below
                    // find which item it was.
                    if matches!(connection, DbConnection::Pg(_))
                        && !rows.is_empty()
                        && crate::data::write::one_statement_key(ops.meta).is_some()
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
                        failed_item = Some(index);
                        created.push(match &conflict {
                            Some(conflict) => {
                                (ops.writes().upsert)(connection, row.clone(), conflict)?
                            }
                            None => (ops.writes().insert)(connection, row.clone())?,
                        });
                    }
                    failed_item = None;
                    Ok(created)
                });
                match outcome {
                    Ok(created) => Ok(created),
                    Err(GuardedWriteError::Refused(error)) => Err(error),
                    Err(GuardedWriteError::Failed(error)) => {
                        // The transaction is rolled back: nothing of the list was written.
                        let Some(failed_item) = failed_item.filter(|item| *item < rows.len())
                        else {
                            return Err(explain_write_error(
                                ops.meta,
                                connection,
                                &Map::new(),
                                WriteKind::Insert,
                                error,
                            ));
                        };
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
