//! One row by its key: `GET`, `PUT`, `PATCH` and `DELETE` on `/{project}/{table}/{pk}/`, with
//! ETags and `If-Match` checked inside the write's transaction.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::Table;
use super::explain_write_error;
use super::{
    fetch_one, key_filter, read_across_switch, respond_with_etag, shaping_of, structure_version,
};
use crate::connections::db::DbConnection;
use crate::connections::pool::Access;
use crate::connections::version;
use crate::data::constraint::WriteKind;
use crate::data::sql::{SqlFilter, SqlStatement};
use crate::data::table_ops::TableOps;
use crate::data::write::checked::{GuardedWriteError, write_transaction};
use crate::data::write_error::WriteError;
use crate::http::body::{self, WriteMode};
use crate::http::conditional;
use crate::http::error::ApiError;
use crate::http::guard::ProjectConnection;
use crate::http::list;
use crate::http::settings::ApiSettings;

/// GET `/{project}/{table}/{pk}/`.
pub(super) async fn retrieve(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    read_across_switch(&request, guard, |guard| {
        retrieve_at(&table, &request, guard, &settings)
    })
    .await
}

async fn retrieve_at(
    table: &Table,
    request: &HttpRequest,
    guard: ProjectConnection,
    settings: &ApiSettings,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let filter = key_filter(ops.meta, request)?;
    let parameters = list::query_pairs(request.query_string())?;
    let shaping = shaping_of(ops, &guard, &parameters, settings)?;
    let unless = conditional::if_none_match(request)?;
    let row = guard
        .run(
            Access::Read,
            (ops.meta.name, "retrieve"),
            move |connection| {
                shaping.read(connection, |connection| {
                    let row = fetch_one(ops, connection, filter.clone())?;
                    shaping.row(connection, row)
                })
            },
        )
        .await?;
    respond_with_etag(conditional::strong_etag(row.as_bytes()), unless, row)
}

/// PUT `/{project}/{table}/{pk}/`: required columns must be present, as on create.
pub(super) async fn replace(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    write_existing(table, request, guard, payload, settings, WriteMode::Replace).await
}

/// PATCH `/{project}/{table}/{pk}/`: any subset of the columns.
pub(super) async fn partial_update(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
) -> Result<HttpResponse, ApiError> {
    write_existing(table, request, guard, payload, settings, WriteMode::Partial).await
}

async fn write_existing(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
    payload: web::Payload,
    settings: web::Data<ApiSettings>,
    mode: WriteMode,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let filter = key_filter(ops.meta, &request)?;
    let precondition = conditional::if_match(&request)?;
    let body = body::read_json_body(&request, payload, settings.max_body_bytes).await?;
    let canonical: Map<String, Value> = body::validate(ops.meta, body, mode)?;
    let version = structure_version(&guard);
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
                } else if precondition.is_none()
                    && !changes_key(ops, &canonical)
                    && version::runs_guarded_statements(connection)
                {
                    super::run_guarded(
                        ops,
                        connection,
                        &version,
                        &canonical,
                        WriteKind::Update,
                        ApiError::NotFound,
                        |connection| {
                            (ops.writes().update_guarded)(connection, &version, &filter, &canonical)
                        },
                    )?
                } else {
                    match write_transaction(connection, &version, |connection| {
                        check_if_match(ops, connection, &filter, precondition.as_ref())?;
                        (ops.writes().update)(connection, filter.clone(), canonical.clone())
                    }) {
                        Ok(Some(row)) => row,
                        Ok(None) => return Err(ApiError::NotFound),
                        Err(GuardedWriteError::Refused(error)) => return Err(error.into()),
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
pub(super) async fn destroy(
    table: Table,
    request: HttpRequest,
    guard: ProjectConnection,
) -> Result<HttpResponse, ApiError> {
    let ops = table.at(&guard, request.method())?;
    let filter = key_filter(ops.meta, &request)?;
    let precondition = conditional::if_match(&request)?;
    let version = structure_version(&guard);
    guard
        .run(
            Access::Write,
            (ops.meta.name, "destroy"),
            move |connection| -> Result<(), ApiError> {
                if precondition.is_none() && version::runs_guarded_statements(connection) {
                    return super::run_guarded(
                        ops,
                        connection,
                        &version,
                        &Map::new(),
                        WriteKind::Delete,
                        ApiError::NotFound,
                        |connection| {
                            let deleted =
                                (ops.writes().delete_guarded)(connection, &version, &filter)?;
                            Ok((deleted > 0).then_some(()))
                        },
                    );
                }
                match write_transaction(connection, &version, |connection| {
                    check_if_match(ops, connection, &filter, precondition.as_ref())?;
                    Ok((ops.writes().delete)(connection, filter.clone())?)
                }) {
                    Ok(0) => Err(ApiError::NotFound),
                    Ok(_) => Ok(()),
                    Err(GuardedWriteError::Refused(error)) => Err(error.into()),
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
            Err(WriteError::PreconditionFailed)
        }
        _ => Ok(()),
    }
}

/// Whether a validated body sets a primary key column: the row is then found again by its new
/// key, which one statement cannot do.
fn changes_key(ops: &'static TableOps, body: &Map<String, Value>) -> bool {
    ops.meta
        .primary_key_columns()
        .any(|key| body.contains_key(key.name))
}
