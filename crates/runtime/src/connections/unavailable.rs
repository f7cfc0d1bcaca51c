//! Why a project database cannot serve a request now, as this layer knows it. Each reason is a
//! passing state (a retry may well succeed), never the client's mistake; the HTTP layer
//! answers each with 503, its own words and a `Retry-After` (`http::error`).

/// A project database that cannot serve now, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// It cannot be reached, or was lost and is not back yet.
    #[error("the project database cannot be reached")]
    Unreachable,
    /// Every connection of the project stayed in use for the whole checkout timeout.
    #[error("no connection became free within the checkout timeout")]
    NoConnectionFree,
    /// The database server has as many connections from this server as its budget allows.
    #[error("the database server is at this server's connection budget")]
    ServerAtConnectionLimit,
    /// A lock could not be had, or the database gave up on a transaction.
    #[error("the project database is busy")]
    Busy,
    /// It refuses writes (a SQLite file opened read-only, a PostgreSQL standby or read-only
    /// transaction): nothing the request holds explains it.
    #[error("the project database refuses writes")]
    ReadOnly,
    /// A statement ran longer than `pool.statement_timeout_ms` and was cancelled.
    #[error("a statement was cancelled by the statement timeout")]
    StatementTimeout,
    /// It accepted the request but did not answer within the time allowed.
    #[error("the project database did not answer in time")]
    DidNotAnswer,
    /// It records a structure version this server does not serve (`serves`: the versions it
    /// does, or the one a write was checked against, as messages name them).
    #[error(
        "the project database records structure version {found:?}, this server serves {serves}"
    )]
    VersionMismatch { found: String, serves: String },
    /// It was served at one version and records another this server also serves: a migration
    /// has just committed. The project is served at `to` from now on; a retry is.
    #[error("the project database has just moved to structure version {to:?}")]
    VersionSwitched { to: String },
    /// A migration holds the version row (it is changing the structure version): a write would
    /// have to wait for it, and is refused instead.
    #[error("a migration holds the structure version")]
    VersionChanging,
    /// Its structure version cannot be read (no table, no row, several).
    #[error("the structure version cannot be read")]
    VersionUnreadable,
    /// The database lacks a table or column that the structure it records describes: its
    /// structure was changed without its version (the database's message, which names it).
    #[error("the structure differs from its version's: {0}")]
    StructureDrift(String),
    /// A PostgreSQL materialized view created `WITH NO DATA` and never refreshed (SQLSTATE
    /// 55000); the database's message, which names the view.
    #[error("{0}")]
    NotPopulated(String),
    /// The connection went away while `COMMIT` was in flight: the write may have been applied.
    #[error("the connection was lost while a write was being committed")]
    WriteOutcomeUnknown,
    /// The connection went away before `COMMIT`: the database rolled the write back.
    #[error("the connection was lost before a write was committed")]
    WriteNotApplied,
}
