//! What a pooled project connection reports about itself while it runs queries: whether it was
//! lost, where, and how many statements it has prepared; and the statement timeout on SQLite.
//!
//! diesel calls an [`Instrumentation`] around every statement, with the error before any
//! caller maps it. Listening there classifies a lost connection in one place, whatever the
//! handler made of the error, so that the pool closes it (never handing it out again) and the
//! guard can retry an idempotent request.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};

/// Shared between a connection's instrumentation and its pool slot.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    /// Statements prepared and cached on this connection since its cache was last cleared.
    cached_statements: AtomicUsize,
    /// Statements that completed since the current attempt began.
    statements_completed: AtomicUsize,
    /// The connection to the database server is gone.
    lost: AtomicBool,
    /// ... and it went while a COMMIT was in flight: the outcome of that write is unknown.
    lost_during_commit: AtomicBool,
    /// ... and it went on the first statement of the attempt: nothing reached the database.
    lost_before_anything: AtomicBool,
    /// The connection is unusable because its prepared statements are not where it left them:
    /// a pooler in transaction mode that the URL does not announce.
    unannounced_pooler: AtomicBool,
    /// The connection is unusable because a statement it keeps prepared now yields other
    /// columns: a migration changed a column's type under it.
    stale_plan: AtomicBool,
}

/// Where a lost connection was lost, which decides whether a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAt {
    /// On the attempt's first statement: nothing reached the database.
    FirstStatement,
    /// While a transaction was open but before COMMIT: the server rolled it back.
    BeforeCommit,
    /// While COMMIT was in flight: the write may or may not have been applied.
    Commit,
}

impl ConnectionWatch {
    pub fn cached_statements(&self) -> usize {
        self.cached_statements.load(Ordering::Relaxed)
    }

    pub fn cache_cleared(&self) {
        self.cached_statements.store(0, Ordering::Relaxed);
    }

    /// Forgets what the previous attempt saw (the connection was fine, or it is a new one).
    pub fn begin_attempt(&self) {
        self.statements_completed.store(0, Ordering::Relaxed);
    }

    /// The connection was given up because a pooler moved it between server connections.
    pub fn saw_unannounced_pooler(&self) -> bool {
        self.unannounced_pooler.load(Ordering::Relaxed)
    }

    /// The connection was given up because a prepared statement's result changed type.
    pub fn saw_stale_plan(&self) -> bool {
        self.stale_plan.load(Ordering::Relaxed)
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Where the connection was lost, if it was.
    pub fn lost_at(&self) -> Option<LostAt> {
        if !self.is_lost() {
            return None;
        }
        Some(if self.lost_during_commit.load(Ordering::Relaxed) {
            LostAt::Commit
        } else if self.lost_before_anything.load(Ordering::Relaxed) {
            LostAt::FirstStatement
        } else {
            LostAt::BeforeCommit
        })
    }
}

/// Whether `error` means the connection itself is gone (server restart, failover, a killed
/// backend, a dropped database), as opposed to a statement failing on a live connection.
pub fn is_connection_lost(error: &Error) -> bool {
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            // SQLSTATE 57P01-57P03 and 08xxx, which diesel does not classify; libpq reports a
            // closed socket in these words.
            message.contains("terminating connection due to administrator command")
                || message.contains("server closed the connection unexpectedly")
                || message.contains("no connection to the server")
                || message.contains("terminating connection because of crash")
        }
        _ => false,
    }
}

/// Whether `error` is about one of diesel's named prepared statements (missing, already there,
/// or expecting other parameters), which is what its statement cache meets behind a pooler in
/// transaction mode: the statement was prepared on one server connection and is run, or
/// prepared again, on another, where the name may even be another client's statement. On a
/// direct connection PostgreSQL never says so.
pub fn is_statement_cache_moved(error: &Error) -> bool {
    match error {
        Error::DatabaseError(_, info) => info
            .message()
            .contains("prepared statement \"__diesel_stmt_"),
        _ => false,
    }
}

/// Whether `error` is PostgreSQL refusing to run a statement prepared before a migration
/// changed the type of a column it returns ("cached plan must not change result type",
/// SQLSTATE 0A000). Every later run of that statement on the connection fails the same way, so
/// the connection is given up like a lost one: closed, and the work retried on a new one where
/// its access allows (a read always; a write, rolled back with the connection, is answered 503
/// to retry).
pub fn is_stale_plan(error: &Error) -> bool {
    match error {
        Error::DatabaseError(_, info) => info
            .message()
            .contains("cached plan must not change result type"),
        _ => false,
    }
}

/// Whether `error` is a statement cancelled by the statement timeout (PostgreSQL's
/// `statement_timeout`, or SQLite interrupted by [`install_sqlite_statement_deadline`]).
pub fn is_statement_timeout(error: &Error) -> bool {
    match error {
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("canceling statement due to statement timeout")
                || message == "interrupted"
        }
        _ => false,
    }
}

/// The instrumentation installed on every pooled project connection.
pub struct WatchInstrumentation {
    pub watch: Arc<ConnectionWatch>,
    /// Statements run on any of the pool's connections (tests count queries with it).
    pub statements: Arc<std::sync::atomic::AtomicU64>,
    /// Enforced on SQLite through the progress handler; PostgreSQL enforces its own.
    pub sqlite_statement_timeout: Option<Duration>,
}

impl Instrumentation for WatchInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(timeout) = self.sqlite_statement_timeout {
                    STATEMENT_DEADLINE
                        .with(|deadline| deadline.set(Some(Instant::now() + timeout)));
                }
            }
            InstrumentationEvent::CacheQuery { .. } => {
                self.watch.cached_statements.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery { query, error, .. } => {
                self.statements.fetch_add(1, Ordering::Relaxed);
                if self.sqlite_statement_timeout.is_some() {
                    STATEMENT_DEADLINE.with(|deadline| deadline.set(None));
                }
                match error {
                    None => {
                        self.watch
                            .statements_completed
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Some(error)
                        if is_connection_lost(error)
                            || is_statement_cache_moved(error)
                            || is_stale_plan(error) =>
                    {
                        if is_statement_cache_moved(error) {
                            self.watch.unannounced_pooler.store(true, Ordering::Relaxed);
                        }
                        if is_stale_plan(error) {
                            self.watch.stale_plan.store(true, Ordering::Relaxed);
                        }
                        let first = self.watch.statements_completed.load(Ordering::Relaxed) == 0;
                        let commit = query
                            .to_string()
                            .trim_start()
                            .to_ascii_uppercase()
                            .starts_with("COMMIT");
                        self.watch
                            .lost_before_anything
                            .store(first && !commit, Ordering::Relaxed);
                        self.watch
                            .lost_during_commit
                            .store(commit, Ordering::Relaxed);
                        self.watch.lost.store(true, Ordering::Relaxed);
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
}

thread_local! {
    /// When the statement running on this thread must stop (SQLite only; set around each
    /// statement by [`WatchInstrumentation`]).
    static STATEMENT_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// SQLite calls this every [`PROGRESS_STEPS`] virtual machine steps; a non-zero answer
/// interrupts the statement (`SQLITE_INTERRUPT`), which leaves the connection usable.
unsafe extern "C" fn progress_handler(_: *mut std::ffi::c_void) -> std::ffi::c_int {
    let expired = STATEMENT_DEADLINE
        .try_with(|deadline| deadline.get().is_some_and(|at| Instant::now() >= at))
        .unwrap_or(false);
    std::ffi::c_int::from(expired)
}

/// Virtual machine steps between two deadline checks. A step is usually a few nanoseconds,
/// but one that evaluates a text lookup on a long value can take milliseconds (a scan over
/// 1,500 rows of 3,000 characters with a 2,000-character `__contains` made 4 steps a row, and
/// at 1,000 steps a check ran past a 300 ms timeout by four seconds). A check costs a clock
/// read (tens of nanoseconds), so they can be frequent.
const PROGRESS_STEPS: std::ffi::c_int = 100;

/// Runs for every SQLite connection this process opens (diesel does not expose the raw
/// handle, SQLite's auto-extension mechanism does).
unsafe extern "C" fn on_sqlite_open(
    db: *mut libsqlite3_sys::sqlite3,
    _error: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    // SAFETY: SQLite passes the connection being opened; the handler takes no data.
    unsafe {
        libsqlite3_sys::sqlite3_progress_handler(
            db,
            PROGRESS_STEPS,
            Some(progress_handler),
            std::ptr::null_mut(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

/// Makes every SQLite connection opened from now on honour the statement deadline that
/// [`WatchInstrumentation`] sets. Idempotent; called before the first SQLite connection opens.
pub fn install_sqlite_statement_deadline() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // SAFETY: registers a function with the signature SQLite expects of an entry point.
        let status = unsafe { libsqlite3_sys::sqlite3_auto_extension(Some(on_sqlite_open)) };
        if status != libsqlite3_sys::SQLITE_OK {
            tracing::error!("cannot install the SQLite statement timeout (status {status})");
        }
    });
}
