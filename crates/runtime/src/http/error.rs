//! The API's one error type and its HTTP mapping, in Django REST Framework's shapes.
//!
//! Client errors carry their message; internal errors are logged with their cause and
//! answered with a generic body, so SQL, URLs and credentials never reach a client.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};

use crate::connections::{DatabaseFailure, Unavailable};
pub use crate::data::field_errors::{FieldError, FieldErrors};
use crate::data::write_error::ExplainedWriteError;

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
    /// `reason` is the connection layer's, where there is one: the guard and the handlers act
    /// on some (a structure version in doubt, a version just switched).
    #[error("project unavailable: {detail}")]
    Unavailable {
        detail: String,
        retry_after_seconds: u32,
        reason: Option<Unavailable>,
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
        reason: None,
    }
}

impl ApiError {
    /// Whether the work failed in a way a structure version change explains: the database
    /// records another version than the work was checked against, or lacks a table or column
    /// the work's version has (what a migration committed under a running read looks like).
    pub fn puts_version_in_doubt(&self) -> bool {
        matches!(
            self,
            ApiError::Unavailable {
                reason: Some(Unavailable::VersionMismatch { .. } | Unavailable::StructureDrift(_)),
                ..
            }
        )
    }

    /// The version a project was found to have moved to while this request was served.
    pub fn switched_to(&self) -> Option<&str> {
        match self {
            ApiError::Unavailable {
                reason: Some(Unavailable::VersionSwitched { to }),
                ..
            } => Some(to),
            _ => None,
        }
    }

    pub fn internal(context: &str, cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(format!("{context}: {cause}"))
    }

    /// The platform database, which holds users and tokens, cannot be reached.
    pub fn authentication_unavailable() -> ApiError {
        unavailable("Authentication is unavailable. Try again later.", 5)
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

/// The one place where the connection layer's reasons become words for API consumers.
impl From<Unavailable> for ApiError {
    fn from(reason: Unavailable) -> ApiError {
        let mut error = answer_unavailable(&reason);
        if let ApiError::Unavailable { reason: slot, .. } = &mut error {
            *slot = Some(reason);
        }
        error
    }
}

/// The 503 of each reason, in words a project's users can act on.
fn answer_unavailable(reason: &Unavailable) -> ApiError {
    match reason {
        Unavailable::Unreachable => {
            unavailable("The project database is unavailable. Try again later.", 5)
        }
        Unavailable::NoConnectionFree => unavailable(
            "No connection to the project database became free in time. Try again.",
            1,
        ),
        Unavailable::ServerAtConnectionLimit => unavailable(
            "The project's database server has no connection to spare right now. Try again.",
            1,
        ),
        Unavailable::Busy => unavailable("The project database is busy. Try again.", 1),
        Unavailable::ReadOnly => unavailable(
            "The project database does not accept writes right now. Try again later.",
            30,
        ),
        Unavailable::StatementTimeout => unavailable(
            "The query took longer than the server's statement timeout and was cancelled. Narrow it (filters, page size) or try again later.",
            5,
        ),
        Unavailable::DidNotAnswer => unavailable(
            "The project database did not answer in time. Try again later.",
            5,
        ),
        Unavailable::VersionMismatch { found, serves } => unavailable(
            &format!(
                "The project database has structure version \"{found}\"; this server serves {serves}. It is unavailable until it records a served version."
            ),
            30,
        ),
        Unavailable::VersionSwitched { to } => unavailable(
            &format!(
                "The project database has just moved to structure version \"{to}\", which this server serves; the request was not carried out. Try again."
            ),
            1,
        ),
        Unavailable::VersionChanging => unavailable(
            "The project database's structure version is being changed. Try again.",
            1,
        ),
        Unavailable::VersionUnreadable => unavailable(
            "The project database's structure version cannot be read. It is unavailable until it can.",
            30,
        ),
        Unavailable::StructureDrift(message) => unavailable(
            &format!(
                "The project database's structure differs from the one its structure version describes: {message}. It is unavailable until they agree (`tenantapi check --structure` lists every difference)."
            ),
            30,
        ),
        // Nothing the caller sent explains it; served once the database's owner refreshes
        // the view, which the database's message names.
        Unavailable::NotPopulated(message) => unavailable(
            &format!(
                "The project database cannot be read here: {message}. It is unavailable until the database runs REFRESH MATERIALIZED VIEW on it."
            ),
            60,
        ),
        Unavailable::WriteOutcomeUnknown => unavailable(
            "The connection to the project database was lost while the write was being committed: it may or may not have been applied. Read the row before trying again.",
            1,
        ),
        Unavailable::WriteNotApplied => unavailable(
            "The connection to the project database was lost during the write, which was not applied. Try again.",
            1,
        ),
    }
}

impl From<diesel::result::Error> for ApiError {
    /// Database failures that no client input explains, as `connections::classify` sees them.
    fn from(error: diesel::result::Error) -> ApiError {
        match crate::connections::classify(error) {
            DatabaseFailure::NoRow => ApiError::NotFound,
            DatabaseFailure::Unavailable(reason) => reason.into(),
            // Not the client's mistake (4xx), not a passing state a retry would fix (503): the
            // server failing to serve what its database holds, logged for the database's owner.
            DatabaseFailure::Unreadable(error) => {
                ApiError::internal("unreadable stored value", error)
            }
            DatabaseFailure::Unexpected(error) => ApiError::internal("database error", error),
        }
    }
}

impl From<ExplainedWriteError> for ApiError {
    fn from(error: ExplainedWriteError) -> ApiError {
        match error {
            ExplainedWriteError::Invalid(errors) => ApiError::Validation(errors),
            ExplainedWriteError::PreconditionFailed => ApiError::PreconditionFailed,
            ExplainedWriteError::Database(error) => error.into(),
            ExplainedWriteError::Internal { context, cause } => ApiError::internal(context, cause),
        }
    }
}
