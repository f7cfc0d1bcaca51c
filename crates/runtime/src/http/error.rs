//! The API's one error type and its HTTP mapping, in Django REST Framework's shapes.
//!
//! Client errors carry their message; internal errors are logged with their cause and
//! answered with a generic body, so SQL, URLs and credentials never reach a client.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};

/// Validation messages by field, DRF's `{"field": ["message"]}`; a list field's item errors
/// are keyed by the item's position, `{"field": {"0": ["message"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, FieldError>);

/// The errors of one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum FieldError {
    Messages(Vec<String>),
    /// Messages by item position (a list field, DRF's ListField).
    Items(BTreeMap<usize, Vec<String>>),
}

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        match self
            .0
            .entry(field.into())
            .or_insert_with(|| FieldError::Messages(Vec::new()))
        {
            FieldError::Messages(messages) => messages.push(message.into()),
            // A field whose items are wrong already says what to fix.
            FieldError::Items(_) => {}
        }
    }

    /// Records why a value was refused: one message, or messages per list item.
    pub fn add_invalid(
        &mut self,
        field: impl Into<String>,
        invalid: crate::data::convert::InvalidValue,
    ) {
        match invalid {
            crate::data::convert::InvalidValue::Message(message) => self.add(field, message),
            crate::data::convert::InvalidValue::Items(items) => {
                self.0.insert(
                    field.into(),
                    FieldError::Items(
                        items
                            .into_iter()
                            .map(|(position, message)| (position, vec![message]))
                            .collect(),
                    ),
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The messages of a field without item errors.
    pub fn messages(&self, field: &str) -> Option<&[String]> {
        match self.0.get(field)? {
            FieldError::Messages(messages) => Some(messages),
            FieldError::Items(_) => None,
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&str> = self.0.keys().map(String::as_str).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("invalid page")]
    InvalidPage,
    /// A `?cursor=` this server did not make for this ordering (DRF: 404 `Invalid cursor`).
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        method: String,
        allowed: Vec<&'static str>,
    },
    /// A malformed request as a whole: `{"detail": message}` with 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    Validation(FieldErrors),
    /// A list body's errors, one object per item in order (DRF's `many=True`).
    #[error("invalid items")]
    ValidationList(Vec<FieldErrors>),
    #[error("JSON parse error - {0}")]
    JsonParse(String),
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A read whose page and expansions would hold more rows than `api.max_read_rows`.
    #[error("a read of more than {limit} rows")]
    TooManyRows { limit: usize },
    #[error("authentication failed: {0}")]
    NotAuthenticated(String),
    #[error("permission denied")]
    PermissionDenied,
    /// `If-Match` named none of the row's current ETags: it changed since the client read it.
    #[error("precondition failed")]
    PreconditionFailed,
    /// Too many requests of a kind at once (DRF's throttling): 429 with `Retry-After`.
    #[error("throttled for {wait_seconds} s")]
    Throttled { wait_seconds: u32 },
    /// The project's database cannot serve now; `detail` is safe to show to its users.
    #[error("project unavailable: {detail}")]
    Unavailable {
        detail: String,
        retry_after_seconds: u32,
    },
    /// A bug or an unexpected database failure: logged, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

/// 503 with `detail` and `Retry-After`.
fn unavailable(detail: &str, retry_after_seconds: u32) -> ApiError {
    ApiError::Unavailable {
        detail: detail.to_string(),
        retry_after_seconds,
    }
}

impl ApiError {
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(format!("{context}: {cause}"))
    }

    /// The project's database cannot be reached (or was lost and is not back yet).
    pub fn project_unavailable() -> ApiError {
        unavailable("The project database is unavailable. Try again later.", 5)
    }

    /// Every connection of the project stayed in use for the whole checkout timeout.
    pub fn no_connection_free() -> ApiError {
        unavailable(
            "No connection to the project database became free in time. Try again.",
            1,
        )
    }

    /// The database server has as many connections from this server as its budget allows.
    pub fn server_at_connection_limit() -> ApiError {
        unavailable(
            "The project's database server has no connection to spare right now. Try again.",
            1,
        )
    }

    /// A lock could not be had, or the database gave up on a transaction: worth retrying.
    pub fn project_busy() -> ApiError {
        unavailable("The project database is busy. Try again.", 1)
    }

    /// The project database refuses writes (a SQLite file opened read-only, a PostgreSQL
    /// standby or read-only transaction): nothing the request holds explains it.
    pub fn project_read_only() -> ApiError {
        unavailable(
            "The project database does not accept writes right now. Try again later.",
            30,
        )
    }

    /// A statement ran longer than `pool.statement_timeout_ms` and was cancelled.
    pub fn statement_timeout() -> ApiError {
        unavailable(
            "The query took longer than the server's statement timeout and was cancelled. Narrow it (filters, page size) or try again later.",
            5,
        )
    }

    /// The database accepted the request but did not answer within the time allowed.
    pub fn project_did_not_answer() -> ApiError {
        unavailable(
            "The project database did not answer in time. Try again later.",
            5,
        )
    }

    /// The platform database, which holds users and tokens, cannot be reached.
    pub fn authentication_unavailable() -> ApiError {
        unavailable("Authentication is unavailable. Try again later.", 5)
    }

    /// The project database records another structure version than this server serves.
    pub fn version_mismatch(found: &str, expected: &str) -> ApiError {
        unavailable(
            &format!(
                "The project database has structure version \"{found}\"; this server serves version \"{expected}\". It is unavailable until they match."
            ),
            30,
        )
    }

    /// The project database's structure version cannot be read (no table, no row, several).
    /// A migration holds the version row (it is changing the structure version): a write
    /// would have to wait for it, and is refused instead.
    pub fn version_changing() -> ApiError {
        unavailable(
            "The project database's structure version is being changed. Try again.",
            1,
        )
    }

    pub fn version_unreadable() -> ApiError {
        unavailable(
            "The project database's structure version cannot be read. It is unavailable until it can.",
            30,
        )
    }

    /// A PostgreSQL materialized view created `WITH NO DATA` and never refreshed (SQLSTATE
    /// 55000): nothing the caller sent explains it, and it is served once the database's owner
    /// refreshes it. `message` is the database's, which names the view.
    pub fn not_populated(message: &str) -> ApiError {
        unavailable(
            &format!(
                "The project database cannot be read here: {message}. It is unavailable until the database runs REFRESH MATERIALIZED VIEW on it."
            ),
            60,
        )
    }

    /// The connection went away while COMMIT was in flight.
    pub fn write_outcome_unknown() -> ApiError {
        unavailable(
            "The connection to the project database was lost while the write was being committed: it may or may not have been applied. Read the row before trying again.",
            1,
        )
    }

    /// The connection went away before COMMIT: the database rolled the write back.
    pub fn write_not_applied() -> ApiError {
        unavailable(
            "The connection to the project database was lost during the write, which was not applied. Try again.",
            1,
        )
    }

    fn detail(&self) -> String {
        match self {
            ApiError::NotFound => "Not found.".into(),
            ApiError::InvalidPage => "Invalid page.".into(),
            ApiError::InvalidCursor => "Invalid cursor".into(),
            ApiError::MethodNotAllowed { method, .. } => {
                format!("Method \"{method}\" not allowed.")
            }
            ApiError::BadRequest(message) => message.clone(),
            ApiError::Validation(_) | ApiError::ValidationList(_) => String::new(),
            ApiError::JsonParse(message) => format!("JSON parse error - {message}"),
            ApiError::UnsupportedMediaType(media_type) => {
                format!("Unsupported media type \"{media_type}\" in request.")
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("Request body is larger than the limit of {limit} bytes.")
            }
            ApiError::TooManyRows { limit } => format!(
                "This read would return more than {limit} rows, counting the page's rows and \
                 every row its expansions add (as often as the answer holds it). Ask for less: \
                 a smaller page_size, fewer relations or levels in expand, or filters that \
                 match fewer rows."
            ),
            ApiError::NotAuthenticated(message) => message.clone(),
            ApiError::PermissionDenied => {
                "You do not have permission to perform this action.".into()
            }
            ApiError::PreconditionFailed => "The row has changed since it was read: its \
                 current ETag is not one If-Match names. Read it again and retry."
                .into(),
            ApiError::Throttled { wait_seconds } => format!(
                "Request was throttled. Expected available in {wait_seconds} second{}.",
                if *wait_seconds == 1 { "" } else { "s" }
            ),
            ApiError::Unavailable { detail, .. } => detail.clone(),
            ApiError::Internal(_) => "A server error occurred.".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound | ApiError::InvalidPage | ApiError::InvalidCursor => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_)
            | ApiError::Validation(_)
            | ApiError::ValidationList(_)
            | ApiError::JsonParse(_)
            | ApiError::TooManyRows { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotAuthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied => StatusCode::FORBIDDEN,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!("internal error: {cause}");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            ApiError::Unavailable {
                retry_after_seconds,
                ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            ApiError::Throttled { wait_seconds } => {
                response.insert_header((header::RETRY_AFTER, wait_seconds.to_string()));
            }
            ApiError::NotAuthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Token"));
            }
            _ => {}
        }
        match self {
            ApiError::Validation(errors) => response.json(errors),
            ApiError::ValidationList(errors) => response.json(errors),
            _ => response.json(serde_json::json!({ "detail": self.detail() })),
        }
    }
}

/// Why a generated insert or update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// A row read back from the database could not be turned into JSON: a bug in a value
    /// type's serialization, not a client error.
    #[error("the row could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A write's row could not be read back (a bug or a concurrent change of its key).
    #[error("the written row could not be read back: {0}")]
    Lost(String),
    /// Refused before it ran, with the answer to give (an `If-Match` that no longer holds).
    #[error("{0}")]
    Refused(ApiError),
    /// A list written as one statement came back in a shape that cannot be paired with its
    /// bodies (two bodies met one row, or a row's conflict columns are not its body's): roll
    /// it back and write the list row by row.
    #[error("the list must be written row by row: {0}")]
    RowByRow(String),
}

impl WriteError {
    /// Whether writing the same list row by row could name one item as the cause: a
    /// constraint, a value the database refused, two bodies meeting one row. Timeouts,
    /// deadlocks, serialization failures and lost connections are no item's doing; row by row
    /// would only repeat them slower.
    pub fn an_item_may_explain(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            WriteError::RowByRow(_) => true,
            WriteError::Database(error @ Error::DatabaseError(kind, info)) => {
                !matches!(
                    kind,
                    DatabaseErrorKind::SerializationFailure
                        | DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand
                        | DatabaseErrorKind::ReadOnlyTransaction
                ) && !info.message().contains("deadlock detected")
                    && !crate::connections::watch::is_statement_timeout(error)
                    && !crate::connections::watch::is_connection_lost(error)
            }
            _ => false,
        }
    }
}

/// SQLite's words for a lock it could not have within its busy timeout (`SQLITE_BUSY`,
/// `SQLITE_LOCKED`); PostgreSQL never uses them.
fn is_sqlite_lock_message(message: &str) -> bool {
    matches!(
        message,
        "database is locked" | "database table is locked" | "database schema is locked"
    ) || message.starts_with("database table is locked: ")
}

impl From<diesel::result::Error> for ApiError {
    /// Database failures that no client input explains: a lost connection is the project
    /// being unavailable (503); anything else is logged as internal.
    fn from(error: diesel::result::Error) -> ApiError {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => ApiError::NotFound,
            // The database gave up on a transaction that may well succeed when retried.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::project_busy()
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().contains("deadlock detected") =>
            {
                ApiError::project_busy()
            }
            // SQLite's lock held by another connection (another process, say) past the busy
            // timeout: a read or write that may well succeed when retried.
            Error::DatabaseError(_, ref info) if is_sqlite_lock_message(info.message()) => {
                tracing::warn!("{}", info.message());
                ApiError::project_busy()
            }
            Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
                ApiError::project_read_only()
            }
            Error::DatabaseError(_, ref info)
                if info
                    .message()
                    .contains("attempt to write a readonly database") =>
            {
                ApiError::project_read_only()
            }
            Error::DatabaseError(_, ref info)
                if info.message().contains("has not been populated") =>
            {
                tracing::warn!("{}", info.message());
                ApiError::not_populated(info.message())
            }
            ref timed_out if crate::connections::watch::is_statement_timeout(timed_out) => {
                tracing::warn!("statement cancelled by the statement timeout");
                ApiError::statement_timeout()
            }
            // Logged by the pool, which closes the connection.
            ref lost if crate::connections::watch::is_connection_lost(lost) => {
                ApiError::project_unavailable()
            }
            // A stored value the column's declared type cannot represent (a SQLite column
            // holding `'t'` where a smallint is described; `stored::UnreadableRow` names the
            // table, the row's key, the column and the value): not the client's mistake (4xx),
            // not a passing state a retry would fix (503), so 500, the server failing to serve
            // what its database holds, logged for the database's owner.
            error @ Error::DeserializationError(_) => {
                ApiError::internal("unreadable stored value", error)
            }
            other => ApiError::internal("database error", other),
        }
    }
}
