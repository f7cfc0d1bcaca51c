//! `POST /{project}/{table}/`: one row or a list of them (DRF's `many=True`), inserted or, with
//! `?on_conflict=`, upserted, in the version-checked write transaction.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::Table;
use super::explain_write_error;
use super::structure_version;
use crate::connections::Unavailable;
use crate::connections::db::DbConnection;
use crate::connections::pool::Access;
use crate::connections::version;
use crate::data::constraint::WriteKind;
use crate::data::meta::ColumnMeta;
use crate::data::meta::TableMeta;
use crate::data::table_ops::TableOps;
use crate::data::write::checked::{GuardedWriteError, write_transaction};
use crate::http::body::{self, WriteMode};
use crate::http::conditional;
use crate::http::error::{ApiError, FieldErrors};
use crate::http::guard::ProjectConnection;
use crate::http::key_path;
use crate::http::settings::ApiSettings;
use crate::http::urls;

/// POST `/{project}/{table}/`: 201 with the new row and its `Location`.
pub(super) async fn create(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let conflict = conflict_target(ops.meta, request.query_string())?;
    let body = body::read_json_body(&request, payload, settings.max_body_bytes).await?;
    if let Value::Array(items) = body {
        return create_many(ops, guard, items, settings.max_bulk_items, conflict).await;
    }
    let canonical = body::validate(ops.meta, body, WriteMode::Create)?;
    if let Some(conflict) = &conflict {
        conflict_values_given(conflict, &canonical).map_err(ApiError::Validation)?;
    }
    let upserting = conflict.is_some();
    let version = structure_version(&guard);
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
                        Unavailable::Busy.into(),
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
                    Err(GuardedWriteError::Refused(error)) => Err(error.into()),
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
    let version = structure_version(&guard);
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
                    Err(GuardedWriteError::Refused(error)) => Err(error.into()),
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

/// The columns `?on_conflict=` names, checked: exactly a unique constraint's columns (or the
/// primary key's, when the client gives keys: a generated key never conflicts). `None`
/// without the parameter.
fn conflict_target(
    meta: &'static TableMeta,
    query_string: &str,
) -> Result<Option<Vec<&'static ColumnMeta>>, ApiError> {
    let pairs = crate::http::list::query_pairs(query_string)?;
    let Some(text) = crate::http::list::last_value(&pairs, "on_conflict") else {
        return Ok(None);
    };
    let mut named: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    named.sort_unstable();
    let mut targets: Vec<Vec<&'static ColumnMeta>> = meta
        .unique
        .iter()
        .map(|set| set.iter().map(|&index| &meta.columns[index]).collect())
        .collect();
    if !meta.primary_key.is_empty() && meta.primary_key_columns().all(|key| !key.generated) {
        targets.push(meta.primary_key_columns().collect());
    }
    for target in &targets {
        let mut names: Vec<&str> = target.iter().map(|column| column.name).collect();
        names.sort_unstable();
        if names == named {
            return Ok(Some(target.clone()));
        }
    }
    let allowed: Vec<String> = targets
        .iter()
        .map(|target| {
            target
                .iter()
                .map(|column| column.name)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    Err(ApiError::BadRequest(format!(
        "on_conflict={text} names no unique constraint of {}; {}",
        meta.verbose_name,
        if allowed.is_empty() {
            "it has none that a client's row can meet.".to_string()
        } else {
            format!("use one of: {}.", allowed.join("; "))
        }
    )))
}
